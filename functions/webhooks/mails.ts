import type { Mail } from "../../shared/mail/port";
import { personalMail, type Recipient } from "../auth/mails";

/** To the owner of an endpoint KWS stopped sending to. */
export const disabledMail = (to: Recipient, url: string, reason: string): Mail =>
  personalMail(to, "A webhook endpoint of yours on KWS was disabled", [
    `KWS stopped sending events to ${url}: ${reason}.`,
    "Its delivery log (/kws_webhooks) shows the attempts. Fix the receiver, then enable the endpoint again;",
    "events from while it was disabled are not sent.",
  ]);

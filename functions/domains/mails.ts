import type { Mail } from "../../shared/mail/port";
import { personalMail, type Recipient } from "../auth/mails";

/** To a person whose claim of `domain` ended because someone else proved they hold it. */
export const lostMail = (to: Recipient, domain: string): Mail =>
  personalMail(to, `Your claim of ${domain} on KWS ended`, [
    `someone else showed the DNS record that proves ${domain} is theirs, so it now points at their app, and your claim is marked lost.`,
    "If the domain is yours, put your own TXT record in its DNS, remove the claim and add it again.",
  ]);

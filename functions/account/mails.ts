import type { Mail } from "../../shared/mail/port";
import { linkMail, personalMail } from "../auth/mails";

export const passwordResetMail = (to: string, firstName: string, link: string): Mail =>
  linkMail({ to, firstName }, "Reset your KWS password", "open this link to choose a new password for your KWS account:", link, [
    "The link works once and expires in 1 hour. Setting a new password signs you out everywhere.",
    "If you did not ask for this, ignore this mail: your password stays as it is.",
  ]);

export const emailChangeMail = (to: string, firstName: string, link: string): Mail =>
  linkMail({ to, firstName }, "Confirm your new KWS e-mail address", "open this link and confirm to make this address the one of your KWS account:", link, [
    "The link works once and expires in 24 hours. If you did not ask for this, ignore this mail.",
  ]);

export const emailChangedNotice = (to: string, firstName: string, newAddress: string): Mail =>
  personalMail({ to, firstName }, "Your KWS e-mail address was changed", [
    `the e-mail address of your KWS account is now ${newAddress}; mail for the account no longer comes here.`,
    "If you did not make this change, reset your password from the new address or contact your KWS administrator.",
  ]);

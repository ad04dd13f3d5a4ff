import type { Mail } from "../../shared/mail/port";

export interface Recipient {
  to: string;
  firstName: string;
}

/** A plain-text mail to a person of KWS: the greeting by first name, then `lines`. */
export const personalMail = ({ to, firstName }: Recipient, subject: string, lines: string[]): Mail => ({
  to,
  subject,
  text: [`Hello ${firstName},`, "", ...lines].join("\n"),
});

/** A mail that carries a one-time link: what opening it does, the link, then what to know about it. */
export const linkMail = (recipient: Recipient, subject: string, opens: string, link: string, notes: string[]): Mail =>
  personalMail(recipient, subject, [opens, link, "", ...notes]);

export const verificationMail = (to: string, firstName: string, username: string, link: string): Mail =>
  linkMail(
    { to, firstName },
    "Verify your KWS e-mail address",
    `open this link and confirm to verify your e-mail address and activate the KWS account "${username}":`,
    link,
    [
      "The link works once and expires in 24 hours. If you did not sign up as this user, ignore this mail:",
      "an account that is not verified is deleted after 7 days, and signing up again replaces it.",
    ],
  );

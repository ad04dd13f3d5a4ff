import type { Mail } from "../../shared/mail/port";

export function verificationMail(to: string, firstName: string, username: string, link: string): Mail {
  return {
    to,
    subject: "Verify your KWS e-mail address",
    text: [
      `Hello ${firstName},`,
      "",
      `open this link and confirm to verify your e-mail address and activate the KWS account "${username}":`,
      link,
      "",
      "The link works once and expires in 24 hours. If you did not sign up as this user, ignore this mail:",
      "an account that is not verified is deleted after 7 days, and signing up again replaces it.",
    ].join("\n"),
  };
}

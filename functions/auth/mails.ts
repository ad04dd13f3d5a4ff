import type { Mail } from "../../shared/mail/port";

export function verificationMail(to: string, firstName: string, link: string): Mail {
  return {
    to,
    subject: "Verify your KWS e-mail address",
    text: [
      `Hello ${firstName},`,
      "",
      "open this link to verify your e-mail address and activate your KWS account:",
      link,
      "",
      "The link works once and expires in 24 hours. If you did not sign up, ignore this mail.",
    ].join("\n"),
  };
}

import type { Mail } from "../../shared/mail/port";

export function passwordResetMail(to: string, firstName: string, link: string): Mail {
  return {
    to,
    subject: "Reset your KWS password",
    text: [
      `Hello ${firstName},`,
      "",
      "open this link to choose a new password for your KWS account:",
      link,
      "",
      "The link works once and expires in 1 hour. Setting a new password signs you out everywhere.",
      "If you did not ask for this, ignore this mail: your password stays as it is.",
    ].join("\n"),
  };
}

export function emailChangeMail(to: string, firstName: string, link: string): Mail {
  return {
    to,
    subject: "Confirm your new KWS e-mail address",
    text: [
      `Hello ${firstName},`,
      "",
      "open this link and confirm to make this address the one of your KWS account:",
      link,
      "",
      "The link works once and expires in 24 hours. If you did not ask for this, ignore this mail.",
    ].join("\n"),
  };
}

export function emailChangedNotice(to: string, firstName: string, newAddress: string): Mail {
  return {
    to,
    subject: "Your KWS e-mail address was changed",
    text: [
      `Hello ${firstName},`,
      "",
      `the e-mail address of your KWS account is now ${newAddress}; mail for the account no longer comes here.`,
      "If you did not make this change, reset your password from the new address or contact your KWS administrator.",
    ].join("\n"),
  };
}

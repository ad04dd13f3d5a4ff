import type { Logger } from "../logger";
import type { Mail, Mailer } from "./port";

/** The embedded default: each mail becomes one log line with msg "mail". */
export class LogMailer implements Mailer {
  constructor(private readonly logger: Logger) {}

  async send(mail: Mail) {
    this.logger.info("mail", { to: mail.to, subject: mail.subject, text: mail.text });
  }
}

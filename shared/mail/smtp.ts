import nodemailer, { type Transporter } from "nodemailer";
import type { Mail, Mailer } from "./port";

export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(url: string, private readonly from: string) {
    this.transport = nodemailer.createTransport(url);
  }

  async send(mail: Mail) {
    await this.transport.sendMail({ from: this.from, ...mail });
  }

  async close() {
    this.transport.close();
  }
}

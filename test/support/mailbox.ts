import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";
import type { AddressInfo } from "node:net";
import type { Logger, LogLevel } from "../../shared/logger";
import { createLogger } from "../../shared/logger";
import type { Mailer } from "../../shared/mail/port";
import { SmtpMailer } from "../../shared/mail/smtp";

export interface ReceivedMail {
  to: string;
  subject: string;
  text: string;
}

/**
 * Where the tests read the mails KWS sends, through the real adapter: a real SMTP server
 * (smtp-server) receives them from the SMTP adapter.
 */
export class Mailbox {
  readonly mails: ReceivedMail[] = [];
  private waiters: (() => void)[] = [];
  private constructor(
    readonly mailer: Mailer,
    readonly logger: Logger,
    readonly logLines: string[],
    private readonly server: SMTPServer,
  ) {}

  /** `level`: what the logger keeps (tests read debug lines; a bench logs as production does). */
  static async open(level: LogLevel = "debug"): Promise<Mailbox> {
    const logLines: string[] = [];
    const logger = createLogger({ service: "kws-test" }, {
      level,
      write: (line) => {
        logLines.push(line);
        if (process.env.KWS_TEST_LOG) console.log(line);
      },
    });
    let box: Mailbox | undefined;
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      onData(stream, session, callback) {
        simpleParser(stream)
          .then((parsed) => {
            box!.receive({
              to: session.envelope.rcptTo.map((r) => r.address).join(","),
              subject: parsed.subject ?? "",
              text: parsed.text ?? "",
            });
            callback();
          })
          .catch(callback);
      },
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.server.address() as AddressInfo).port;
    box = new Mailbox(new SmtpMailer(`smtp://127.0.0.1:${port}`, "KWS <no-reply@kws.test>"), logger, logLines, server);
    return box;
  }

  private receive(mail: ReceivedMail) {
    this.mails.push(mail);
    for (const w of this.waiters.splice(0)) w();
  }

  /** The newest mail to `to`, waiting up to `timeoutMs` for one to arrive. */
  latest(to: string, timeoutMs = 5000): Promise<ReceivedMail> {
    return this.find(to, () => true, timeoutMs);
  }

  /** The newest mail to `to` that `match` accepts, waiting up to `timeoutMs` for one (mails sent in the background). */
  async find(to: string, match: (mail: ReceivedMail) => boolean, timeoutMs = 5000): Promise<ReceivedMail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.mails.filter((m) => m.to === to && match(m)).at(-1);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no such mail to ${to} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The verification link of the newest mail to `to` (it opens the page that asks before verifying). */
  async verificationLink(to: string): Promise<string> {
    const mail = await this.latest(to);
    const link = mail.text.match(/https?:\/\/\S+\/kws_verify\?token=[A-Za-z0-9_%-]+/)?.[0];
    if (!link) throw new Error(`no verification link in mail to ${to}: ${mail.text}`);
    return link;
  }

  /** The token of that link, as `POST /api/v1/auth/verify` takes it. */
  async verificationToken(to: string): Promise<string> {
    return new URL(await this.verificationLink(to)).searchParams.get("token")!;
  }

  async close() {
    await this.mailer.close?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

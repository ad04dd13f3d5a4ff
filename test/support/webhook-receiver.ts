import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { WebhookWorker } from "../../functions/webhooks/worker";
import { startHarness, type Harness } from "./harness";

export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

/** What the receiver does with a request: a status (and headers), or nothing at all (never answers). */
export type Answer = { status: number; headers?: Record<string, string> } | "hang";

/**
 * A real HTTP server that receives webhooks, as a customer's would: it keeps every request (in
 * order of arrival) and answers each as `answer` says (200 unless told otherwise).
 */
export class WebhookReceiver {
  readonly received: Received[] = [];
  answer: (req: Received, index: number) => Answer | Promise<Answer> = () => ({ status: 200 });
  private readonly waiters: (() => void)[] = [];
  private readonly hanging = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(host = "127.0.0.1"): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | undefined;
    const server = createServer((req, res) => void receiver!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    const { port } = server.address() as AddressInfo;
    receiver = new WebhookReceiver(server, `http://${host.includes(":") ? `[${host}]` : host}:${port}`);
    return receiver;
  }

  get port() {
    return (this.server.address() as AddressInfo).port;
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const received: Received = { path: req.url ?? "/", headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString(), at: Date.now() };
    this.received.push(received);
    for (const w of this.waiters.splice(0)) w();
    const answer = await this.answer(received, this.received.length - 1);
    if (answer === "hang") {
      this.hanging.add(res);
      return;
    }
    res.writeHead(answer.status, answer.headers).end("ok");
  }

  /** Waits until `count` requests (to `path`, when given) have arrived; answers them. */
  async waitFor(count: number, timeoutMs = 20_000, path?: string): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    const matching = () => this.received.filter((r) => path === undefined || r.path === path);
    while (matching().length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`webhook receiver: ${matching().length} of ${count} requests within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return matching();
  }

  async close() {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The payload of a request, verified with the `standardwebhooks` package (throws when the signature is wrong). */
export function verified<T = { type: string; timestamp: string; data: any }>(secret: string, r: Received): T {
  return new Webhook(secret).verify(r.body, r.headers) as T;
}

/**
 * A harness (with `env`), the delivery worker in this process polling every 200 ms, and a
 * receiver: what the in-process webhook tests start; `close` stops all three.
 */
export async function startWebhookHarness(env: Record<string, string>): Promise<{ h: Harness; receiver: WebhookReceiver; close(): Promise<void> }> {
  const h = await startHarness({ env: { KWS_WEBHOOK_ALLOW_PRIVATE: "true", ...env } });
  const worker = new WebhookWorker({ services: h.services, logger: h.mailbox.logger, pollMs: 200 });
  await worker.start();
  const receiver = await WebhookReceiver.start();
  return {
    h,
    receiver,
    close: async () => {
      await worker.stop();
      await receiver.close();
      await h.close();
    },
  };
}

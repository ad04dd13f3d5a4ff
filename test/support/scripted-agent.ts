import WebSocket from "ws";
import { GatewayMessageSchema, PROTOCOL_VERSION, stamp, type GatewayMessage } from "../../shared/protocol/messages";

/**
 * A websocket client that speaks the agent protocol under the test's control: for testing the
 * gateway's side of the protocol without an LXD host. Not the agent (that is agent/).
 */
export class ScriptedAgent {
  readonly received: GatewayMessage[] = [];
  readonly raw: unknown[] = [];
  closed?: { code: number; reason: string };
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const json = JSON.parse(data.toString());
      this.raw.push(json);
      const parsed = GatewayMessageSchema.safeParse(json);
      if (parsed.success) this.received.push(parsed.data);
      this.wake();
    });
    ws.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Opens the socket; rejects with the HTTP status when the upgrade is refused. */
  static connect(baseUrl: string, credential: string): Promise<ScriptedAgent> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/agent/v1/connect`, {
      headers: { authorization: `Bearer ${credential}` },
    });
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new ScriptedAgent(ws)));
      ws.once("unexpected-response", (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
      ws.once("error", reject);
    });
  }

  send(body: object) {
    this.ws.send(JSON.stringify(stamp(body)));
  }

  sendRaw(text: string) {
    this.ws.send(text);
  }

  hello(protocol = PROTOCOL_VERSION) {
    this.send({ type: "hello", protocol, agentVersion: "test", lxdVersion: null, degradedReason: null });
  }

  /** The first message (from index `from`) matching `pick`, waiting up to `timeoutMs`. */
  async next<T extends GatewayMessage["type"]>(type: T, from = 0, timeoutMs = 10_000): Promise<Extract<GatewayMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.slice(from).find((m) => m.type === type);
      if (found) return found as Extract<GatewayMessage, { type: T }>;
      if (this.closed && type !== "refused") throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) before a ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} within ${timeoutMs} ms; got ${this.received.map((m) => m.type).join(",")}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async waitClosed(timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("socket did not close");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.closed;
  }

  close() {
    this.ws.close();
  }

  terminate() {
    this.ws.terminate();
  }
}

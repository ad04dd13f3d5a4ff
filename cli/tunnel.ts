import { randomBytes } from "node:crypto";
import type WebSocket from "ws";
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "../shared/backoff";
import type { Logger } from "../shared/logger";
import { TUNNEL_ENDED, TUNNEL_KEY_HEADER, TUNNEL_NAME_HEADER, TUNNEL_PATH, TUNNEL_REPLACED, TUNNEL_URL_HEADER } from "../shared/protocol/cli-streams";
import { STREAM_PING_MS } from "../shared/streams/keepalive";
import { relay } from "../shared/streams/relay";
import { muxOverWebSocket } from "../shared/streams/ws-mux";
import { CliError } from "./errors";
import { openWebSocket, WebSocketRefused } from "./websocket";

export type TunnelAccess = "owner" | "authenticated" | "public";

/** The local server's address: what visitors' streams connect to, and nothing else. */
const LOCAL_HOST = "127.0.0.1";

export interface TunnelOptions {
  baseUrl: string;
  token: string;
  port: number;
  name?: string;
  access: TunnelAccess;
  /** The tunnel is (again) open at `url`. */
  onOpen(tunnel: { name: string; url: string; resumed: boolean }): void;
  /** The connection broke; the next try is in `retryInMs`. */
  onLost(reason: string, retryInMs: number): void;
  /** What goes wrong with one visitor's connection (the local server refusing it). */
  logger: Logger;
  backoff?: BackoffOptions;
}

/**
 * `kws tunnel`: one outbound websocket to the control plane carrying a stream per visitor, each
 * relayed to the local port (the agent's relay, with the CLI as the acceptor). The connection is
 * made again with jittered backoff when it breaks, with the same name and key, so the control
 * plane gives the name back. run() ends when stop() is called, or with a CliError when the control
 * plane refuses the tunnel (a name in use, a revoked token).
 */
export class TunnelClient {
  /** Proves to the control plane that a reconnect is this tunnel's. */
  private readonly key = randomBytes(24).toString("base64url");
  private readonly backoff: Required<BackoffOptions>;
  private ws: WebSocket | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private name: string | undefined;

  constructor(private readonly o: TunnelOptions) {
    this.backoff = { ...DEFAULT_BACKOFF, ...o.backoff };
    this.name = o.name;
  }

  async run(): Promise<void> {
    let failures = 0;
    let resumed = false;
    while (!this.stopped) {
      const openedAt = Date.now();
      let reason: string;
      try {
        reason = await this.connectOnce(resumed);
        resumed = true;
        if (Date.now() - openedAt >= this.backoff.resetAfterMs) failures = 0;
      } catch (err) {
        if (err instanceof WebSocketRefused && err.status < 500) throw this.refusal(err, resumed);
        reason = err instanceof WebSocketRefused ? err.message : (err as Error).message;
      }
      if (this.stopped) return;
      const retryInMs = backoffDelay(failures++, this.backoff);
      this.o.onLost(reason, retryInMs);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, retryInMs);
      });
    }
  }

  /** Ends the tunnel: the control plane frees its name at once. */
  stop(): void {
    this.stopped = true;
    this.ws?.close(TUNNEL_ENDED, "tunnel ended");
    // A connection that no longer answers would hold the close handshake for 30 s.
    setTimeout(() => this.ws?.terminate(), 2000).unref();
    this.wake?.();
  }

  /** One connection, until it closes: answers why it closed. */
  private async connectOnce(resumed: boolean): Promise<string> {
    const query = new URLSearchParams({ access: this.o.access, port: String(this.o.port), ...(this.name ? { name: this.name } : {}) });
    const { ws, socket, headers } = await openWebSocket(this.o.baseUrl, `${TUNNEL_PATH}?${query}`, this.o.token, { [TUNNEL_KEY_HEADER]: this.key });
    this.ws = ws;
    if (this.stopped) ws.close(TUNNEL_ENDED, "tunnel ended");
    this.name = String(headers[TUNNEL_NAME_HEADER]);
    const port = this.o.port;
    muxOverWebSocket(ws, {
      socket,
      role: "acceptor",
      pingMs: STREAM_PING_MS,
      logger: this.o.logger,
      onOpen: (request, stream) =>
        relay(request, stream, {
          targets: {
            check: (address, to) => (address === LOCAL_HOST && to === port ? { ok: true } : { ok: false, message: `this tunnel serves ${LOCAL_HOST}:${port} only` }),
          },
          connectTimeoutMs: 5000,
          logger: this.o.logger,
        }),
    });
    this.o.onOpen({ name: this.name, url: String(headers[TUNNEL_URL_HEADER]), resumed });
    return new Promise((resolve) => {
      ws.once("close", (code, why) => {
        if (code === TUNNEL_REPLACED) this.stopped = true;
        resolve(`connection closed (${code}${why.length ? ` ${why.toString()}` : ""})`);
      });
    });
  }

  private refusal(err: WebSocketRefused, resumed: boolean): CliError {
    if (!resumed || err.status !== 409) return err.error;
    return new CliError(`the name ${this.name} was taken while the tunnel was away: ${err.message}`, 1, "run kws tunnel again (with another --name)");
  }
}

import type { Duplex } from "node:stream";
import WebSocket from "ws";
import type { Logger } from "../../shared/logger";
import { MAX_FRAME_BYTES } from "../../shared/streams/frames";
import { STREAM_PING_MS } from "../../shared/streams/keepalive";
import type { Mux } from "../../shared/streams/mux";
import { muxOverWebSocket } from "../../shared/streams/ws-mux";
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "../../shared/backoff";
import { gatewayEndpoint } from "../cli-args";
import { assertSecureGateway } from "../gateway-url";
import { closeForShutdown } from "../shutdown-socket";
import type { StreamActivity } from "./activity";
import { relay } from "../../shared/streams/relay";
import { StreamTargets } from "./targets";

export interface StreamConnectionOptions {
  /** Base URL of the process that runs the ingress (the gateway URL by default). */
  url: string;
  /** --insecure-gateway: plain ws:// off loopback (agent/gateway-url.ts); the credential travels here too. */
  insecureGateway?: boolean;
  credential: string;
  logger: Logger;
  targets: StreamTargets;
  /** Counts the streams to each instance (idle auto-stop's activity reports). */
  activity?: StreamActivity;
  /** How long connecting to a target may take before the dialer hears `timeout`. */
  connectTimeoutMs?: number;
  pingMs?: number;
  /** Receive window per stream (bytes). */
  window?: number;
  backoff?: BackoffOptions;
  random?: () => number;
  WebSocket?: typeof WebSocket;
}

/**
 * The agent's data connection: a second outbound websocket (`/agent/v1/streams`), apart from the
 * control channel so bulk bytes never queue in front of commands. The control plane opens streams
 * over it; each is relayed to a TCP port of an instance. Redialled with jittered backoff.
 */
export class StreamConnection {
  private readonly url: string;
  private readonly backoff: Required<BackoffOptions>;
  private readonly WebSocketImpl: typeof WebSocket;
  private ws: WebSocket | undefined;
  private mux: Mux | undefined;
  private failures = 0;
  private openedAt: number | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = true;

  constructor(private readonly options: StreamConnectionOptions) {
    assertSecureGateway(options.url, options.insecureGateway ?? false);
    this.url = gatewayEndpoint(options.url, "agent/v1/streams", "ws");
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.WebSocketImpl = options.WebSocket ?? WebSocket;
  }

  /** Streams open on the current connection. */
  get streamCount(): number {
    return this.mux?.size ?? 0;
  }

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.options.logger.info("stream connection starting", { url: this.url, targets: this.options.targets.describe() });
    this.connect();
  }

  /** Closes the connection (every stream on it ends) and stops redialling. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await closeForShutdown(this.ws);
  }

  private connect(): void {
    const log = this.options.logger;
    let failure: string | undefined;
    this.openedAt = undefined;
    const ws = new this.WebSocketImpl(this.url, {
      headers: { authorization: `Bearer ${this.options.credential}` },
      handshakeTimeout: 10_000,
      perMessageDeflate: false,
      maxPayload: MAX_FRAME_BYTES,
    });
    this.ws = ws;
    ws.on("unexpected-response", (_req, res) => {
      failure = `HTTP ${res.statusCode}`;
      if (res.statusCode === 401) log.error("the control plane rejected this host's credential on the stream endpoint", { url: this.url });
      res.resume();
      ws.terminate();
    });
    ws.on("error", (err) => (failure ??= err.message));
    let socket: Duplex | undefined;
    ws.on("upgrade", (res) => (socket = res.socket));
    ws.on("open", () => {
      this.openedAt = Date.now();
      this.mux = muxOverWebSocket(ws, {
        socket: socket!,
        role: "acceptor",
        pingMs: this.options.pingMs ?? STREAM_PING_MS,
        logger: log,
        ...(this.options.window ? { window: this.options.window } : {}),
        onOpen: (request, stream) =>
          relay(request, stream, {
            targets: this.options.targets,
            connectTimeoutMs: this.options.connectTimeoutMs ?? 5000,
            logger: log,
            ...(this.options.activity ? { activity: this.options.activity } : {}),
          }),
      });
      log.info("stream connection open", { url: this.url });
    });
    ws.on("close", (code) => {
      if (ws !== this.ws) return;
      this.ws = undefined;
      this.mux = undefined;
      if (this.stopped) return;
      if (this.openedAt !== undefined && Date.now() - this.openedAt >= this.backoff.resetAfterMs) this.failures = 0;
      const retryInMs = backoffDelay(this.failures, this.backoff, this.options.random);
      this.failures += 1;
      log.warn("stream connection lost", { code, ...(failure ? { failure } : {}), retryInMs });
      this.retryTimer = setTimeout(() => this.connect(), retryInMs);
    });
  }
}

import WebSocket from "ws";
import type { RawData } from "ws";
import type { ClientRequest, IncomingMessage } from "node:http";
import { AGENT_MESSAGE_MINOR, GatewayMessageSchema, PROTOCOL_VERSION, compatible, parseFrame, speaks, stamp } from "../shared/protocol/messages";
import type { AgentMessageBody, Command, GatewayMessage, HostFactsMessage, Welcome, WireGuardPeersAnswer } from "../shared/protocol/messages";
import type { Logger } from "../shared/logger";
import { CloseCodes } from "../shared/protocol/close-codes";
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "../shared/backoff";
import { gatewayEndpoint } from "./cli-args";
import { assertSecureGateway } from "./gateway-url";
import { closeForShutdown } from "./shutdown-socket";
import type { Journal } from "./journal";

const MAX_HELD_PROGRESS = 1000;

export type ConnectionState = "idle" | "connecting" | "open" | "ready" | "waiting" | "stopped";

export interface ConnectionOptions {
  gatewayUrl: string;
  /** --insecure-gateway: plain ws:// to a gateway that is not on loopback (agent/gateway-url.ts). */
  insecureGateway?: boolean;
  credential: string;
  hostId: string;
  agentVersion: string;
  journal: Pick<Journal, "unacked" | "markAcked">;
  /** Read at every hello, so a reconnect reports LXD as it is now. */
  lxdStatus: () => { lxdVersion: string | null; degradedReason: string | null };
  facts: () => Promise<HostFactsMessage>;
  onCommand: (command: Command) => void;
  /** After each welcome (every reconnect), once the held progress and unacked results are out. */
  onWelcome?: (welcome: Welcome) => void;
  onWireGuardPeers?: (answer: WireGuardPeersAnswer) => void;
  logger: Logger;
  factsIntervalMs?: number;
  watchdogMs?: number;
  backoff?: BackoffOptions;
  random?: () => number;
  handshakeTimeoutMs?: number;
  /** A rejected credential is logged as an error at most this often; retries in between are quieter. */
  rejectionLogIntervalMs?: number;
  WebSocket?: typeof WebSocket;
}

/**
 * The agent's one websocket to the gateway: dials out, says hello, keeps the connection honest
 * with a watchdog, and redials with jittered exponential backoff whenever it is lost.
 */
export class Connection {
  private readonly options: ConnectionOptions;
  private readonly url: string;
  private readonly WebSocketImpl: typeof WebSocket;
  private readonly backoff: Required<BackoffOptions>;
  private logger: Logger;
  private state: ConnectionState = "idle";
  private ws: WebSocket | undefined;
  private failures = 0;
  private readonly heldProgress: AgentMessageBody[] = [];
  private openedAt: number | undefined;
  private failure: string | undefined;
  private gatewayProtocol = PROTOCOL_VERSION;
  private watchdogMs: number;
  private watchdog: NodeJS.Timeout | undefined;
  private factsTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  // Separate from `state`: frames still arrive while a close is under way and must not revive it.
  private stopped = false;
  private lastRejectionLog = Number.NEGATIVE_INFINITY;
  private quietRejections = 0;

  constructor(options: ConnectionOptions) {
    this.options = options;
    assertSecureGateway(options.gatewayUrl, options.insecureGateway ?? false);
    this.url = gatewayEndpoint(options.gatewayUrl, "agent/v1/connect", "ws");
    this.WebSocketImpl = options.WebSocket ?? WebSocket;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.watchdogMs = options.watchdogMs ?? 45_000;
    this.logger = options.logger.child({ hostId: options.hostId });
  }

  get current(): ConnectionState {
    return this.state;
  }

  start(): void {
    if (this.state !== "idle" && this.state !== "stopped") return;
    this.stopped = false;
    this.connect();
  }

  /** Closes with 1001 (going away) and stops redialling. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.clearSessionTimers();
    const ws = this.ws;
    this.setState("stopped");
    await closeForShutdown(ws);
  }

  /** Drops the current connection and dials again at once, e.g. so a new hello reports a change. */
  reconnect(reason: string): void {
    if (this.state !== "ready" && this.state !== "open") return;
    this.logger.info("reconnecting", { reason });
    this.failures = 0;
    this.ws?.close(1000, reason.slice(0, 100));
  }

  /**
   * Sends when welcomed; false otherwise. Results are resent from the journal after the next
   * welcome; progress steps are kept (the newest ones, bounded) and sent before those results, so a
   * job's steps survive a gateway restart in the middle of it.
   */
  send(body: AgentMessageBody): boolean {
    if (this.state === "ready" && this.write(body) !== undefined) return true;
    if (body.type === "progress") {
      this.heldProgress.push(body);
      if (this.heldProgress.length > MAX_HELD_PROGRESS) this.heldProgress.shift();
    }
    return false;
  }

  /** Sends a request when welcomed; its message id, which the answer quotes, or undefined when it cannot go out. */
  request(body: AgentMessageBody): string | undefined {
    return this.state === "ready" ? this.write(body) : undefined;
  }

  /** The message id when sent; undefined when the socket is not open or the gateway is too old for the message. */
  private write(body: AgentMessageBody): string | undefined {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return undefined;
    const minor = AGENT_MESSAGE_MINOR[body.type];
    if (minor !== undefined && !speaks(this.gatewayProtocol, minor)) return undefined;
    const message = stamp(body);
    ws.send(JSON.stringify(message));
    return message.id;
  }

  private connect(): void {
    this.failure = undefined;
    this.openedAt = undefined;
    this.setState("connecting", { url: this.url, attempt: this.failures + 1 });
    const ws = new this.WebSocketImpl(this.url, {
      headers: { authorization: `Bearer ${this.options.credential}` },
      handshakeTimeout: this.options.handshakeTimeoutMs ?? 10_000,
      perMessageDeflate: false,
    });
    this.ws = ws;
    ws.on("unexpected-response", (req, res) => this.rejected(ws, req, res));
    ws.on("open", () => this.opened(ws));
    ws.on("message", (data) => this.received(ws, data));
    ws.on("ping", () => this.feedWatchdog(ws));
    ws.on("error", (err) => {
      this.failure ??= err.message;
    });
    ws.on("close", (code, reason) => this.closed(ws, code, reason.toString()));
  }

  private rejected(ws: WebSocket, _req: ClientRequest, res: IncomingMessage): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      const status = res.statusCode ?? 0;
      const said = gatewayMessage(Buffer.concat(chunks).toString("utf8"));
      this.failure = `HTTP ${status}${said ? `: ${said}` : ""}`;
      if (status === 401 || status === 403) this.logRejection(status, said);
      ws.terminate();
    };
    res.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= 4096) chunks.push(chunk);
    });
    res.once("end", done);
    res.once("error", done);
  }

  private logRejection(status: number, said: string | undefined): void {
    const interval = this.options.rejectionLogIntervalMs ?? 60_000;
    const now = Date.now();
    if (now - this.lastRejectionLog < interval) {
      this.quietRejections += 1;
      return;
    }
    this.logger.error(
      "the gateway rejected this host's credential: re-enroll with `kws-agent --gateway URL --enroll TOKEN` " +
        "(a new token from the control plane); retrying meanwhile",
      { status, gatewayMessage: said, url: this.url, rejectedSinceLastLog: this.quietRejections },
    );
    this.lastRejectionLog = now;
    this.quietRejections = 0;
  }

  private opened(ws: WebSocket): void {
    if (ws !== this.ws || this.stopped) return;
    this.openedAt = Date.now();
    this.setState("open");
    this.feedWatchdog(ws);
    const { lxdVersion, degradedReason } = this.options.lxdStatus();
    this.write({ type: "hello", protocol: PROTOCOL_VERSION, agentVersion: this.options.agentVersion, lxdVersion, degradedReason });
  }

  private received(ws: WebSocket, data: RawData): void {
    if (ws !== this.ws || this.stopped) return;
    this.feedWatchdog(ws);
    const parsed = parseFrame(GatewayMessageSchema, rawText(data));
    if (!parsed.ok) {
      this.logger.warn("malformed frame from the gateway", { error: parsed.error });
      this.write({ type: "error", message: parsed.error });
      return;
    }
    this.handle(ws, parsed.message);
  }

  private handle(ws: WebSocket, message: GatewayMessage): void {
    switch (message.type) {
      case "welcome":
        this.welcomed(ws, message);
        return;
      case "refused":
        this.failure = `refused: ${message.reason}`;
        this.logger.error("the gateway refused this agent", { reason: message.reason });
        ws.close(1000, "refused");
        return;
      case "command":
        if (this.state !== "ready") {
          this.write({ type: "error", message: "command before welcome" });
          return;
        }
        this.options.onCommand(message);
        return;
      case "wg-peers":
        if (this.state === "ready") this.options.onWireGuardPeers?.(message);
        return;
      case "ack":
        this.options.journal.markAcked(message.jobId).catch((err: unknown) => {
          this.logger.warn("could not journal an ack", { jobId: message.jobId, err });
        });
        return;
      case "error":
        this.logger.warn("the gateway could not accept a frame from this agent", { error: message.message });
        return;
    }
  }

  private welcomed(ws: WebSocket, welcome: Welcome): void {
    if (!compatible(welcome.protocol)) {
      this.failure = `gateway speaks protocol ${welcome.protocol}, this agent ${PROTOCOL_VERSION}`;
      this.logger.error("incompatible gateway protocol: upgrade the agent or the gateway", {
        gatewayProtocol: welcome.protocol,
        agentProtocol: PROTOCOL_VERSION,
      });
      ws.close(1002, "protocol version");
      return;
    }
    if (welcome.hostId !== this.options.hostId) this.logger = this.options.logger.child({ hostId: welcome.hostId });
    this.gatewayProtocol = welcome.protocol;
    // The gateway may ping less often than our default expects: allow three missed heartbeats.
    this.watchdogMs = Math.max(this.options.watchdogMs ?? 45_000, 3 * welcome.heartbeatMs);
    this.feedWatchdog(ws);
    const unacked = this.options.journal.unacked();
    this.setState("ready", { hostName: welcome.hostName, heartbeatMs: welcome.heartbeatMs, resending: unacked.length });
    this.sendFacts();
    this.factsTimer = setInterval(() => this.sendFacts(), this.options.factsIntervalMs ?? 60_000);
    for (const step of this.heldProgress.splice(0)) this.write(step);
    for (const result of unacked) this.write(result);
    this.options.onWelcome?.(welcome);
  }

  private sendFacts(): void {
    this.options
      .facts()
      .then((facts) => this.send({ type: "facts", facts }))
      .catch((err: unknown) => this.logger.warn("could not collect host facts", { err }));
  }

  private feedWatchdog(ws: WebSocket): void {
    if (ws !== this.ws || this.stopped) return;
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      this.failure = `nothing from the gateway in ${Math.round(this.watchdogMs / 1000)} s`;
      this.logger.warn("connection is silent: dropping it", { silentMs: this.watchdogMs });
      ws.terminate();
    }, this.watchdogMs);
  }

  private closed(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.clearSessionTimers();
    this.ws = undefined;
    if (this.stopped) {
      this.logger.info("connection closed", { code });
      return;
    }
    if (code === CloseCodes.replaced) {
      // Resetting the backoff here would let two agents with one credential evict each other in a tight loop.
      this.logger.error("the gateway replaced this connection with a newer one of this host: is a second agent running with the same credential?");
    } else if (this.openedAt !== undefined && Date.now() - this.openedAt >= this.backoff.resetAfterMs) {
      this.failures = 0;
    }
    const delayMs = backoffDelay(this.failures, this.backoff, this.options.random);
    this.failures += 1;
    this.setState("waiting", {
      code,
      ...(reason ? { reason } : {}),
      ...(this.failure ? { failure: this.failure } : {}),
      retryInMs: delayMs,
    });
    this.retryTimer = setTimeout(() => this.connect(), delayMs);
  }

  private clearSessionTimers(): void {
    clearTimeout(this.watchdog);
    clearInterval(this.factsTimer);
    this.watchdog = undefined;
    this.factsTimer = undefined;
  }

  private setState(state: ConnectionState, fields: Record<string, unknown> = {}): void {
    this.state = state;
    const level = state === "waiting" ? "warn" : "info";
    this.logger[level](`connection ${state}`, { state, ...fields });
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data as ArrayBuffer).toString("utf8");
}

/** The message of the gateway's error envelope, or the start of whatever it said. */
function gatewayMessage(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } };
    if (typeof body.error?.message === "string") return body.error.message;
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.trim().slice(0, 200) || undefined;
}

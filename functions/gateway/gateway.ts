import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { hashToken, randomToken } from "../../shared/crypto/tokens";
import { hostByCredential, recordHeartbeats } from "../../shared/hosts/store";
import type { Logger } from "../../shared/logger";
import { JobReaper } from "./reaper";
import { AgentSession, CloseCodes, type SessionServices } from "./session";

export const CONNECT_PATH = "/agent/v1/connect";

export interface GatewayOptions extends SessionServices {
  reaperIntervalMs?: number;
}

/**
 * Holds each agent's websocket. Agents authenticate with their host credential during the
 * HTTP upgrade (a wrong one never gets a websocket); one live connection per host.
 */
export class Gateway {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024, perMessageDeflate: false });
  private readonly sessions = new Map<string, AgentSession>();
  private readonly all = new Set<AgentSession>();
  private readonly reaper: JobReaper;
  private heartbeatTimer?: ReturnType<typeof setInterval>;
  private readonly log: Logger;
  readonly id = randomToken().slice(0, 12);

  constructor(private readonly o: GatewayOptions) {
    this.log = o.logger.child({ component: "gateway", gatewayId: this.id });
    this.reaper = new JobReaper({ db: o.db, queue: o.queue, logger: this.log, heartbeatMs: o.heartbeatMs, intervalMs: o.reaperIntervalMs });
  }

  async start() {
    await this.reaper.start();
    this.heartbeatTimer = setInterval(() => void this.beat(), this.o.heartbeatMs);
    this.heartbeatTimer.unref?.();
  }

  /** Serves the agent endpoint on an HTTP server (the control plane's or a gateway of its own). */
  attach(server: Server) {
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = new URL(req.url ?? "/", "http://gateway").pathname;
      if (!path.endsWith(CONNECT_PATH)) {
        reject(socket, 404, "Not Found");
        return;
      }
      void this.upgrade(req, socket, head);
    });
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    socket.on("error", () => socket.destroy());
    const credential = req.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
    let host;
    try {
      host = credential ? await hostByCredential(this.o.db, await hashToken(credential)) : undefined;
    } catch (err) {
      this.log.error("agent authentication failed", { err });
      reject(socket, 503, "Service Unavailable");
      return;
    }
    if (!host) {
      this.log.warn("agent refused: bad credential", { remote: req.socket.remoteAddress });
      reject(socket, 401, "Unauthorized");
      return;
    }
    const authenticated = host;
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const session: AgentSession = new AgentSession({
        ws,
        host: authenticated,
        connectionId: `${this.id}:${randomToken().slice(0, 10)}`,
        db: this.o.db,
        queue: this.o.queue,
        logger: this.log,
        heartbeatMs: this.o.heartbeatMs,
        secretBox: this.o.secretBox,
        prefetch: this.o.prefetch,
        onEstablished: (s) => {
          const previous = this.sessions.get(s.hostId);
          this.sessions.set(s.hostId, s);
          if (previous && previous !== s) previous.close(CloseCodes.replaced, "replaced by a newer connection of this host");
        },
        onClose: (s) => {
          this.all.delete(s);
          if (this.sessions.get(s.hostId) === s) this.sessions.delete(s.hostId);
        },
      });
      this.all.add(session);
    });
  }

  /** Pings every agent, then records in one statement which hosts answered since the last beat. */
  private async beat() {
    const answered: string[] = [];
    for (const s of this.sessions.values()) if (s.takePong()) answered.push(s.hostId);
    for (const s of this.all) s.heartbeat();
    try {
      const present = await recordHeartbeats(this.o.db, answered);
      for (const id of answered) {
        if (!present.has(id)) this.sessions.get(id)?.close(CloseCodes.hostDeleted, "this host was removed");
      }
    } catch (err) {
      this.log.error("heartbeat write failed", { err });
    }
  }

  /** Hosts with a live connection on this gateway. */
  connectedHosts(): string[] {
    return [...this.sessions.keys()];
  }

  disconnect(hostId: string, reason: string) {
    this.sessions.get(hostId)?.close(CloseCodes.hostDeleted, reason);
  }

  /** Fails overdue jobs now instead of at the next tick (tests, operations). */
  sweepOverdue() {
    return this.reaper.sweep();
  }

  async stop() {
    clearInterval(this.heartbeatTimer);
    await this.reaper.stop();
    for (const s of [...this.all]) s.close(CloseCodes.shutdown, "gateway shutting down");
    this.wss.close();
  }
}

function reject(socket: Duplex, status: number, text: string) {
  const body = JSON.stringify({ error: { code: status === 401 ? "unauthorized" : "unavailable", message: text } });
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

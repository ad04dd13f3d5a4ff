import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import type { Database } from "../../shared/db";
import type { Logger } from "../../shared/logger";
import { CloseCodes } from "../../shared/protocol/close-codes";
import { MAX_FRAME_BYTES } from "../../shared/streams/frames";
import { STREAM_PING_MS } from "../../shared/streams/keepalive";
import { OpenRejectedError, type Mux } from "../../shared/streams/mux";
import { muxOverWebSocket } from "../../shared/streams/ws-mux";
import { agentEndpoint } from "../gateway/authenticate";
import { existingHosts } from "../hosts/store";
import { DialError, type StreamDialer, type StreamTarget } from "../ingress/stream-dialer";
import type { UpgradeHandler } from "../upgrades";

export const STREAMS_PATH = "/agent/v1/streams";

export interface StreamHubOptions {
  db: Database;
  logger: Logger;
  pingMs?: number;
  /** How long a dial waits for the agent's answer (the agent itself gives up connecting after 5 s). */
  openTimeoutMs?: number;
  /** Receive window per stream (bytes). */
  window?: number;
  /** How often the hub drops the data connections of hosts deleted since they connected. */
  sweepMs?: number;
}

interface DataConnection {
  ws: WebSocket;
  mux: Mux;
}

/**
 * Holds each agent's data websocket (`/agent/v1/streams`, apart from its control channel) and
 * opens TCP streams to containers through it: the StreamDialer of the ingress.
 */
export class StreamHub implements StreamDialer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
  private readonly connections = new Map<string, DataConnection>();
  private readonly log: Logger;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly o: StreamHubOptions) {
    this.log = o.logger.child({ component: "stream-hub" });
    // A deleted host's agent keeps its socket open and redials; the control channel drops it at a
    // heartbeat (gateway), this does the same for the data connection.
    this.sweeper = setInterval(() => void this.dropDeletedHosts(), o.sweepMs ?? 30_000).unref();
    this.handleUpgrade = agentEndpoint(STREAMS_PATH, o.db, this.log, (host, req, socket, head) =>
      this.wss.handleUpgrade(req, socket, head, (ws) => this.connected(host.id, ws, socket)),
    );
  }

  readonly handleUpgrade: UpgradeHandler;

  private connected(hostId: string, ws: WebSocket, socket: Duplex) {
    const log = this.log.child({ hostId });
    const mux = muxOverWebSocket(ws, { socket, role: "dialer", pingMs: this.o.pingMs ?? STREAM_PING_MS, logger: log, ...(this.o.window ? { window: this.o.window } : {}) });
    const previous = this.connections.get(hostId);
    this.connections.set(hostId, { ws, mux });
    previous?.ws.close(CloseCodes.replaced, "replaced by a newer data connection of this host");
    log.info("data connection open", { replaced: previous !== undefined });
    ws.on("close", (code) => {
      if (this.connections.get(hostId)?.ws === ws) this.connections.delete(hostId);
      log.info("data connection closed", { code });
    });
  }

  async dial(target: StreamTarget): Promise<Duplex> {
    const connection = this.connections.get(target.hostId);
    if (!connection) throw new DialError("host_offline", `host ${target.hostId} has no data connection`);
    try {
      return await connection.mux.open({ address: target.address, port: target.port }, this.o.openTimeoutMs ?? 10_000);
    } catch (err) {
      if (!(err instanceof OpenRejectedError)) throw err;
      const reason = err.reason === "closed" ? "host_offline" : err.reason;
      throw new DialError(reason, `${target.address}:${target.port} on host ${target.hostId}: ${err.message}`);
    }
  }

  /** Hosts with a data connection to this process. */
  connectedHosts(): string[] {
    return [...this.connections.keys()];
  }

  /** Streams registered on every connection (opening, open or half-closed). */
  get streamCount(): number {
    let n = 0;
    for (const { mux } of this.connections.values()) n += mux.size;
    return n;
  }

  /** Closes the data connections of hosts that no longer exist. */
  async dropDeletedHosts(): Promise<void> {
    const connected = this.connectedHosts();
    try {
      const present = await existingHosts(this.o.db, connected);
      for (const hostId of connected) {
        if (present.has(hostId)) continue;
        this.log.info("dropping the data connection of a deleted host", { hostId });
        this.connections.get(hostId)?.ws.close(CloseCodes.hostDeleted, "this host was removed");
      }
    } catch (err) {
      this.log.error("checking the connected hosts failed", { err });
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    for (const { ws } of this.connections.values()) ws.close(1001, "shutting down");
    this.connections.clear();
    this.wss.close();
  }
}

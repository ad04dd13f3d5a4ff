import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { z } from "zod";
import { hashToken } from "../../shared/crypto/tokens";
import { appAccessLevels, type Tunnel } from "../../shared/db/schema";
import type { Logger } from "../../shared/logger";
import { TUNNEL_ENDED, TUNNEL_KEY_HEADER, TUNNEL_NAME_HEADER, TUNNEL_PATH, TUNNEL_REPLACED, TUNNEL_URL_HEADER } from "../../shared/protocol/cli-streams";
import { MAX_FRAME_BYTES } from "../../shared/streams/frames";
import { STREAM_PING_MS } from "../../shared/streams/keepalive";
import { OpenRejectedError, type Mux } from "../../shared/streams/mux";
import { muxOverWebSocket } from "../../shared/streams/ws-mux";
import { AppName } from "../apps/schemas";
import { authenticateUpgrade } from "../auth/upgrade-auth";
import { zodIssues } from "../errors";
import { appUrl } from "../ingress/names";
import type { Destination } from "../ingress/resolve";
import { DialError, type StreamDialer, type StreamTarget } from "../ingress/stream-dialer";
import type { Services } from "../services";
import { rejectUpgrade, upgradePath, type UpgradeHandler } from "../upgrades";
import { claimTunnel, deleteExpiredTunnels, holdTunnelUntil, newTunnelName, releaseTunnel, renewTunnels } from "./queries";

export interface TunnelHubOptions {
  services: Services;
  pingMs?: number;
  /** How long a tunnel whose connection broke keeps its name for its CLI to come back (a clean end frees it at once). */
  graceMs?: number;
  /** How far ahead a connected tunnel's row is held, renewed at a third of it: what a crashed process leaves held. */
  holdMs?: number;
  /** How long a visitor's stream waits for the CLI to connect the local port. */
  openTimeoutMs?: number;
}

const TunnelQuery = z.object({
  name: AppName.optional(),
  access: z.enum(appAccessLevels, { message: 'must be "owner", "authenticated" or "public"' }).default("owner"),
  port: z.coerce.number({ message: "must be a whole number" }).int("must be a whole number").min(1, "must be at least 1").max(65535, "must be at most 65535"),
});

const TunnelKey = z.string().regex(/^[A-Za-z0-9_-]{20,200}$/, "must be 20-200 URL-safe characters");

interface Connection {
  id: string;
  ws: WebSocket;
  mux: Mux;
}

/** A tunnel of this process: connected, or waiting for its CLI to come back (no connection). */
interface LiveTunnel {
  row: Tunnel;
  port: number;
  connection?: Connection;
  graceTimer?: NodeJS.Timeout;
}

/**
 * Holds the CLI connections of `kws tunnel` (TUNNEL_PATH) and opens streams to the person's local
 * port through them: the same Mux the agents' data connections use, with the CLI accepting. The
 * ingress router asks it first for a label (destination) and dials through it.
 */
export class TunnelHub implements StreamDialer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
  private readonly byName = new Map<string, LiveTunnel>();
  private readonly connections = new Map<string, Connection>();
  /** The headers an accepted upgrade answers with (the name it got). */
  private readonly answers = new WeakMap<IncomingMessage, string[]>();
  private readonly log: Logger;
  private readonly renewer: NodeJS.Timeout;
  private readonly graceMs: number;
  private readonly holdMs: number;

  constructor(private readonly o: TunnelHubOptions) {
    this.log = o.services.logger.child({ component: "tunnels" });
    this.graceMs = o.graceMs ?? 3000;
    this.holdMs = o.holdMs ?? 60_000;
    this.renewer = setInterval(() => void this.renew(), this.holdMs / 3).unref();
    this.wss.on("headers", (headers, req) => headers.push(...(this.answers.get(req) ?? [])));
  }

  readonly handleUpgrade: UpgradeHandler = (req, socket, head) => {
    if (upgradePath(req) !== TUNNEL_PATH) return false;
    socket.on("error", () => socket.destroy());
    void this.accept(req, socket, head).catch((err: unknown) => {
      this.log.error("tunnel upgrade failed", { err });
      rejectUpgrade(socket, 503, "unavailable", "the tunnel could not be opened; try again shortly");
    });
    return true;
  };

  /** The destination of a tunnel's name held by this process; undefined: not a tunnel here. */
  destination(label: string): Destination | undefined {
    const live = this.byName.get(label);
    if (!live) return undefined;
    return {
      label,
      kind: "tunnel",
      instanceId: null,
      ownerId: live.row.userId,
      access: live.row.access,
      instanceState: "running",
      instanceJobId: null,
      // The connection stands where a host stands for an instance: streams go through it.
      target: { hostId: live.connection?.id ?? `${live.row.id}:away`, address: "127.0.0.1", port: live.port },
    };
  }

  async dial(target: StreamTarget): Promise<Duplex> {
    const connection = this.connections.get(target.hostId);
    if (!connection) throw new DialError("host_offline", "the tunnel's CLI is not connected (it may be reconnecting)");
    try {
      return await connection.mux.open({ address: target.address, port: target.port }, this.o.openTimeoutMs ?? 10_000);
    } catch (err) {
      if (!(err instanceof OpenRejectedError)) throw err;
      throw new DialError(err.reason === "closed" ? "host_offline" : err.reason, `local port ${target.port} through the tunnel: ${err.message}`);
    }
  }

  /** Tunnels with a connection to this process. */
  get connectedCount(): number {
    return this.connections.size;
  }

  private async accept(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const query = TunnelQuery.safeParse(Object.fromEntries(new URL(req.url ?? "/", "http://upgrade").searchParams));
    const key = TunnelKey.safeParse(req.headers[TUNNEL_KEY_HEADER]);
    if (!query.success || !key.success) {
      const issue = query.success ? { path: TUNNEL_KEY_HEADER, message: zodIssues(key.error!)[0]!.message } : zodIssues(query.error)[0]!;
      return rejectUpgrade(socket, 400, "invalid", `${issue.path}: ${issue.message}`);
    }
    const s = this.o.services;
    const user = await authenticateUpgrade(s, req, socket, this.log);
    if (!user) return;
    const name = query.data.name ?? (await newTunnelName(s.db, () => randomBytes(5).toString("hex")));
    const claim = await claimTunnel(s.db, { userId: user.id, name, access: query.data.access, keyHash: await hashToken(key.data), until: this.holdUntil() });
    if ("taken" in claim) {
      const by = claim.taken === "tunnel" ? "another tunnel" : "an app or an instance";
      return rejectUpgrade(socket, 409, "conflict", `name: ${name} is in use by ${by}; choose another with --name`);
    }
    const url = appUrl(s.config.appsUrl, name);
    this.answers.set(req, [`${TUNNEL_NAME_HEADER}: ${name}`, `${TUNNEL_URL_HEADER}: ${url}`]);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.connected(claim.tunnel, query.data.port, ws, socket));
  }

  private connected(row: Tunnel, port: number, ws: WebSocket, socket: Duplex): void {
    const log = this.log.child({ tunnel: row.name, userId: row.userId });
    const mux = muxOverWebSocket(ws, { socket, role: "dialer", pingMs: this.o.pingMs ?? STREAM_PING_MS, logger: log });
    const connection: Connection = { id: randomUUID(), ws, mux };
    const previous = this.byName.get(row.name);
    clearTimeout(previous?.graceTimer);
    const live: LiveTunnel = { row, port, connection };
    this.byName.set(row.name, live);
    this.connections.set(connection.id, connection);
    previous?.connection?.ws.close(TUNNEL_REPLACED, "replaced by a newer connection of this tunnel");
    log.info("tunnel open", { port, access: row.access, resumed: previous !== undefined });
    ws.on("close", (code) => {
      this.connections.delete(connection.id);
      if (this.byName.get(row.name) !== live || live.connection !== connection) return;
      if (code === TUNNEL_ENDED) {
        this.byName.delete(row.name);
        log.info("tunnel ended: its name is free");
        void releaseTunnel(this.o.services.db, row.id).catch((err: unknown) => log.error("freeing the tunnel's name failed", { err }));
        return;
      }
      live.connection = undefined;
      log.info("tunnel connection lost: holding its name for its CLI", { code, graceMs: this.graceMs });
      void holdTunnelUntil(this.o.services.db, row.id, new Date(Date.now() + this.graceMs)).catch((err: unknown) => log.error("shortening the tunnel's hold failed", { err }));
      live.graceTimer = setTimeout(() => {
        if (this.byName.get(row.name) === live && !live.connection) this.byName.delete(row.name);
      }, this.graceMs).unref();
    });
  }

  private holdUntil(): Date {
    return new Date(Date.now() + this.holdMs);
  }

  private async renew(): Promise<void> {
    const db = this.o.services.db;
    const ids = [...this.byName.values()].filter((t) => t.connection).map((t) => t.row.id);
    try {
      await renewTunnels(db, ids, this.holdUntil());
      await deleteExpiredTunnels(db, new Date(Date.now() - 60 * 60_000));
    } catch (err) {
      this.log.error("renewing the tunnels' names failed", { err });
    }
  }

  /** Closes every tunnel connection; their names stay held (holdMs) for the CLIs to take back from the next process. */
  async stop(): Promise<void> {
    clearInterval(this.renewer);
    for (const live of this.byName.values()) clearTimeout(live.graceTimer);
    for (const { ws } of this.connections.values()) ws.close(1001, "shutting down");
    this.connections.clear();
    this.byName.clear();
    this.wss.close();
  }
}

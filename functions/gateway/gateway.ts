import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { randomToken } from "../../shared/crypto/tokens";
import { recordHeartbeats } from "../hosts/store";
import type { Logger } from "../../shared/logger";
import type { Host } from "../../shared/db/schema";
import type { UpgradeHandler } from "../upgrades";
import type { Config } from "../../shared/config";
import { activitySettings } from "../idle/rules";
import type { NodeServices } from "../node-services";
import { agentEndpoint } from "./authenticate";
import { JobReaper } from "./reaper";
import { CloseCodes } from "../../shared/protocol/close-codes";
import type { Delivery, Subscription } from "../../shared/queue/port";
import { gatewayQueue, GatewayNoticeSchema } from "../core/jobs/notices";
import { hostsWithWork } from "./claims";
import { AgentSession, type SessionServices } from "./session";

export const CONNECT_PATH = "/agent/v1/connect";

/** The gateway of a Node process (`npm start`, `npm run gateway`), from its configuration and services. */
export function configuredGateway(config: Config, services: Pick<NodeServices, "db" | "queue" | "secretBox" | "metrics">, logger: Logger): Gateway {
  return new Gateway({
    db: services.db,
    queue: services.queue,
    logger,
    heartbeatMs: config.heartbeatMs,
    secretBox: services.secretBox,
    activity: activitySettings(config.idleStop),
    metrics: services.metrics,
  });
}

export interface GatewayOptions extends SessionServices {
  reaperIntervalMs?: number;
  /** How often the jobs table is searched for work whose notice was lost (default 5 s). */
  rescanMs?: number;
  /** Parts made elsewhere (a test's own reaper); each missing one is made from the options above. */
  parts?: Partial<GatewayParts>;
}

export interface GatewayParts {
  reaper: JobReaper;
  /** Takes the agents' upgraded connections; one of its own sets other limits. */
  wss: WebSocketServer;
}

/**
 * Holds each agent's websocket. Agents authenticate with their host credential during the
 * HTTP upgrade (a wrong one never gets a websocket); one live connection per host.
 */
export class Gateway {
  private readonly wss: WebSocketServer;
  private readonly sessions = new Map<string, AgentSession>();
  private readonly all = new Set<AgentSession>();
  private readonly reaper: JobReaper;
  private heartbeatTimer?: ReturnType<typeof setInterval>;
  private rescanTimer?: ReturnType<typeof setInterval>;
  private notices?: Subscription;
  private readonly log: Logger;
  readonly id = randomToken().slice(0, 12);

  constructor(private readonly o: GatewayOptions) {
    this.log = o.logger.child({ component: "gateway", gatewayId: this.id });
    this.reaper =
      o.parts?.reaper ?? new JobReaper({ db: o.db, logger: this.log, heartbeatMs: o.heartbeatMs, intervalMs: o.reaperIntervalMs, metrics: o.metrics });
    this.wss = o.parts?.wss ?? new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024, perMessageDeflate: false });
    this.handleUpgrade = agentEndpoint(CONNECT_PATH, o.db, this.log, (host, req, socket, head) => this.upgrade(host, req, socket, head));
  }

  async start() {
    this.o.metrics?.watch({ agentConnections: () => this.connectionStates() });
    const queue = gatewayQueue(this.id);
    await this.o.queue.declare(queue, { transient: true });
    this.notices = await this.o.queue.consume(queue, (d) => this.onNotice(d), { prefetch: 256 });
    this.reaper.start();
    this.heartbeatTimer = setInterval(() => void this.beat(), this.o.heartbeatMs);
    this.heartbeatTimer.unref?.();
    this.rescanTimer = setInterval(() => void this.rescan(), this.o.rescanMs ?? 5000);
    this.rescanTimer.unref?.();
  }

  private async onNotice(d: Delivery<unknown>) {
    const notice = GatewayNoticeSchema.safeParse(d.body);
    if (!notice.success) this.log.warn("malformed gateway notice; dropped", { body: d.body });
    else if (notice.data.type === "jobs") this.sessions.get(notice.data.hostId)?.dispatch();
    else {
      const session = this.sessions.get(notice.data.hostId);
      if (session?.connectionId === notice.data.connectionId) session.close(CloseCodes.replaced, "replaced by a newer connection of this host");
    }
    await d.ack();
  }

  /** Finds the work of held hosts whose notice never came (lost with a gateway, sent while the broker was down). */
  async rescan(): Promise<void> {
    try {
      for (const hostId of await hostsWithWork(this.o.db, this.id)) this.sessions.get(hostId)?.dispatch();
    } catch (err) {
      this.log.error("rescan for waiting jobs failed", { err });
    }
  }

  /** The agent endpoint, for the server's upgrade router (functions/upgrades.ts). */
  readonly handleUpgrade: UpgradeHandler;

  private upgrade(host: Host, req: IncomingMessage, socket: Duplex, head: Buffer) {
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const session: AgentSession = new AgentSession({
        ws,
        host,
        gatewayId: this.id,
        connectionId: `${this.id}:${randomToken().slice(0, 10)}`,
        db: this.o.db,
        queue: this.o.queue,
        logger: this.log,
        heartbeatMs: this.o.heartbeatMs,
        secretBox: this.o.secretBox,
        prefetch: this.o.prefetch,
        activity: this.o.activity,
        metrics: this.o.metrics,
        onEstablished: (s) => {
          const previous = this.sessions.get(s.hostId);
          this.sessions.set(s.hostId, s);
          if (previous && previous !== s) previous.close(CloseCodes.replaced, "replaced by a newer connection of this host");
        },
        onClose: (s) => {
          this.all.delete(s);
          if (this.sessions.get(s.hostId) !== s) return;
          this.sessions.delete(s.hostId);
          this.o.metrics?.clearAgentState(s.hostName);
        },
      });
      this.all.add(session);
    });
  }

  /**
   * Pings every agent, then records in one statement which hosts answered since the last beat. A host
   * that is gone, or held by another connection (a takeover whose notice was lost), ends its session.
   */
  private async beat() {
    const answered: AgentSession[] = [];
    for (const s of this.sessions.values()) if (s.takePong()) answered.push(s);
    for (const s of this.all) s.heartbeat();
    try {
      const holders = await recordHeartbeats(this.o.db, answered.map((s) => ({ hostId: s.hostId, connectionId: s.connectionId })));
      for (const s of answered) {
        if (!holders.has(s.hostId)) s.close(CloseCodes.hostDeleted, "this host was removed");
        else if (holders.get(s.hostId) !== s.connectionId) s.close(CloseCodes.replaced, "replaced by a newer connection of this host");
      }
    } catch (err) {
      this.log.error("heartbeat write failed", { err });
    }
  }

  private connectionStates() {
    let established = 0;
    for (const s of this.all) if (s.isEstablished) established++;
    return [
      { state: "established", count: established },
      { state: "handshaking", count: this.all.size - established },
    ];
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
    clearInterval(this.rescanTimer);
    await this.notices?.cancel();
    this.reaper.stop();
    for (const s of [...this.all]) s.close(CloseCodes.shutdown, "gateway shutting down");
    this.wss.close();
  }
}

import type { Logger } from "../shared/logger";
import { LxdClient } from "./lxd/client";
import { LxdUnavailableError } from "./lxd/errors";
import { DEFAULT_LXD_SOCKETS, findLxdSocket } from "./lxd/socket";
import { Connection } from "./connection";
import type { ConnectionOptions } from "./connection";
import { Executor } from "./executor";
import type { LxdAccess } from "./executor";
import { Journal } from "./journal";
import { StateDir } from "./state";
import type { Credential } from "./state";
import { createHandlers } from "./handlers";
import { collectHostFacts } from "./handlers/host-facts";
import { HostFirewall } from "./isolation/host-firewall";
import { WireGuard } from "./wireguard/manager";
import type { WireGuardOptions } from "./wireguard/manager";
import { PeerRefresh } from "./wireguard/peer-refresh";
import { StreamConnection, type StreamConnectionOptions } from "./streams/stream-connection";
import { StreamTargets } from "./streams/targets";
import { StreamActivity } from "./streams/activity";
import { ActivityReporter } from "./activity/reporter";
import { AgentMetricsReporter } from "./metrics";

export interface LxdMonitorOptions {
  /** The operator's choice (--lxd-socket / LXD_SOCKET), tried before the usual paths. */
  socketPath?: string;
  socketCandidates?: readonly string[];
  recheckMs?: number;
  logger: Logger;
  /** The LXD client's timing hook (the agent's metrics). */
  onTiming?: (operation: string, seconds: number) => void;
}

/** Whether LXD answers; re-checked periodically, so an agent started before LXD picks it up later. */
export class LxdMonitor {
  private readonly options: LxdMonitorOptions;
  private access: LxdAccess = { reason: "LXD has not been checked yet" };
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private checked = false;
  private readonly listeners: ((access: LxdAccess) => void)[] = [];

  constructor(options: LxdMonitorOptions) {
    this.options = options;
  }

  /** Calls `listener` when LXD appears or goes away (not at the first check). */
  onChange(listener: (access: LxdAccess) => void): void {
    this.listeners.push(listener);
  }

  get current(): LxdAccess {
    return this.access;
  }

  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), this.options.recheckMs ?? 30_000);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  check(): Promise<void> {
    this.checking ??= this.probe().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async probe(): Promise<void> {
    const next = await this.find();
    const before = this.checked ? this.access : undefined;
    this.access = next;
    this.checked = true;
    if (before && describe(before) === describe(next)) return;
    if (next.client) this.options.logger.info("LXD available", { version: next.version, socket: next.client.socketPath });
    else this.options.logger.error("LXD unavailable: running degraded, LXD commands fail with lxd_unavailable", { reason: next.reason });
    if (before && Boolean(before.client) !== Boolean(next.client)) for (const listener of this.listeners) listener(next);
  }

  private async find(): Promise<LxdAccess> {
    const socketPath = findLxdSocket({
      ...(this.options.socketPath ? { socketPath: this.options.socketPath } : {}),
      ...(this.options.socketCandidates ? { candidates: this.options.socketCandidates } : {}),
    });
    if (!socketPath) {
      const tried = [
        ...(this.options.socketPath ? [this.options.socketPath] : []),
        ...(this.options.socketCandidates ?? DEFAULT_LXD_SOCKETS),
      ];
      return { reason: new LxdUnavailableError(undefined, `no LXD socket found (tried ${tried.join(", ")})`).message };
    }
    const client =
      this.access.client?.socketPath === socketPath
        ? this.access.client
        : new LxdClient({ socketPath, ...(this.options.onTiming ? { onTiming: this.options.onTiming } : {}) });
    try {
      const info = await client.serverInfo();
      return { client, version: info.serverVersion };
    } catch (err) {
      return { reason: err instanceof LxdUnavailableError ? err.message : `LXD on ${socketPath} did not answer: ${(err as Error).message}` };
    }
  }
}

function describe(access: LxdAccess): string {
  return access.client ? `LXD ${access.version}` : access.reason;
}

export interface AgentOptions {
  stateDir: string;
  credential: Credential;
  gatewayUrl: string;
  /** --insecure-gateway: plain http:// to a gateway that is not on loopback. */
  insecureGateway?: boolean;
  agentVersion: string;
  logger: Logger;
  lxdSocket?: string;
  lxdSocketCandidates?: readonly string[];
  lxdRecheckMs?: number;
  drainTimeoutMs?: number;
  storagePool?: string;
  /**
   * The WireGuard interface's name, address, port and endpoint (omitted fields take the defaults).
   * Without it the agent leaves WireGuard alone and the wg.* commands fail: agents started in
   * numbers by benches must not fight over one interface.
   */
  wireguard?: WireGuardOptions["config"];
  /**
   * The data connection for the ingress (agent/streams): where it goes (default the gateway URL),
   * which addresses streams may reach (default the lxdbr0 bridge's subnets). Without it the agent
   * opens no data connection: agents started in numbers by benches need none.
   */
  streams?: { url?: string; targets?: readonly string[] } & Partial<Pick<StreamConnectionOptions, "connectTimeoutMs" | "pingMs" | "window" | "backoff">>;
  /** Connection tuning for tests (watchdog, backoff, facts interval). */
  connection?: Partial<Pick<ConnectionOptions, "watchdogMs" | "backoff" | "factsIntervalMs" | "WebSocket">>;
  /** Parts made elsewhere (a test's own journal, LXD monitor, firewall…); each missing one is made from the options above. */
  parts?: Partial<AgentParts>;
}

/** The agent's self-contained parts; the executor, the connection and the peer refresh that tie them together are its own. */
export interface AgentParts {
  journal: Journal;
  lxd: LxdMonitor;
  firewall: HostFirewall;
  /** undefined: WireGuard left alone. */
  wireguard: WireGuard | undefined;
  /** undefined: no data connection. */
  streams: StreamConnection | undefined;
}

/**
 * The host agent: journal, LXD, host firewall, WireGuard, executor, WireGuard peer refresh, the gateway connection
 * and the data connection, started in that order.
 */
export class Agent {
  private readonly options: AgentOptions;
  private readonly logger: Logger;
  private readonly journal: Journal;
  private readonly lxd: LxdMonitor;
  private readonly firewall: HostFirewall;
  private readonly wireguard: WireGuard | undefined;
  private readonly peerRefresh: PeerRefresh | undefined;
  private readonly executor: Executor;
  private readonly connection: Connection;
  private readonly streams: StreamConnection | undefined;
  private readonly activity: ActivityReporter;
  private readonly metrics: AgentMetricsReporter;

  constructor(options: AgentOptions) {
    this.options = options;
    this.logger = options.logger.child({ hostId: options.credential.hostId });
    const parts = options.parts ?? {};
    const state = new StateDir({ dir: options.stateDir });
    this.wireguard =
      "wireguard" in parts
        ? parts.wireguard
        : options.wireguard && new WireGuard({ config: options.wireguard, stateDir: options.stateDir, logger: this.logger });
    this.peerRefresh =
      this.wireguard &&
      new PeerRefresh({
        wireguard: this.wireguard,
        request: () => this.connection.request({ type: "wg-peers-request" }),
        logger: this.logger,
        intervalMs: this.wireguard.intervalMs,
      });
    this.firewall = parts.firewall ?? new HostFirewall({ lxd: () => this.lxd.current.client, logger: this.logger });
    const factsOptions = {
      stateDir: options.stateDir,
      storagePool: options.storagePool ?? "default",
      ...(this.wireguard ? { wireguard: this.wireguard } : {}),
    };
    this.journal = parts.journal ?? new Journal({ path: state.journalPath, logger: this.logger });
    this.metrics = new AgentMetricsReporter({
      lxd: () => this.lxd.current.client,
      ...(this.wireguard ? { wireguard: this.wireguard } : {}),
      send: (report) => this.connection.send(report),
      logger: this.logger,
    });
    this.lxd =
      parts.lxd ??
      new LxdMonitor({
        ...(options.lxdSocket ? { socketPath: options.lxdSocket } : {}),
        ...(options.lxdSocketCandidates ? { socketCandidates: options.lxdSocketCandidates } : {}),
        ...(options.lxdRecheckMs ? { recheckMs: options.lxdRecheckMs } : {}),
        logger: this.logger,
        onTiming: this.metrics.recordLxd,
      });
    // hello is the only place the gateway learns degradedReason: a change warrants a fresh hello.
    this.lxd.onChange(() => this.connection.reconnect("LXD availability changed"));
    this.executor = new Executor({
      journal: this.journal,
      handlers: createHandlers({ ...factsOptions, firewall: this.firewall }),
      lxd: () => this.lxd.current,
      send: (message) => {
        const sent = this.connection.send(message);
        if (message.type === "result") this.metrics.jobEnded();
        return sent;
      },
      logger: this.logger,
      agentVersion: options.agentVersion,
      ...(options.drainTimeoutMs ? { drainTimeoutMs: options.drainTimeoutMs } : {}),
      onLxdUnavailable: () => void this.lxd.check(),
    });
    this.connection = new Connection({
      ...options.connection,
      gatewayUrl: options.gatewayUrl,
      insecureGateway: options.insecureGateway ?? false,
      credential: options.credential.credential,
      hostId: options.credential.hostId,
      agentVersion: options.agentVersion,
      journal: this.journal,
      lxdStatus: () => {
        const access = this.lxd.current;
        return access.client ? { lxdVersion: access.version, degradedReason: null } : { lxdVersion: null, degradedReason: access.reason };
      },
      // Facts without LXD beat no facts: the gateway still sees the host's size.
      facts: () => collectHostFacts(this.lxd.current.client, factsOptions).catch(() => collectHostFacts(undefined, factsOptions)),
      onCommand: (command) => this.executor.submit(command),
      onWelcome: (welcome) => {
        this.peerRefresh?.ask();
        this.activity.configure(welcome.activity);
      },
      onWireGuardPeers: (answer) => void this.peerRefresh?.answer(answer.requestId, answer.peers),
      logger: options.logger,
    });
    const streamActivity = new StreamActivity();
    this.activity = new ActivityReporter({
      lxd: () => this.lxd.current.client,
      streams: streamActivity,
      send: (message) => this.connection.send(message),
      logger: this.logger,
    });
    if ("streams" in parts) {
      this.streams = parts.streams;
    } else if (options.streams) {
      const { url, targets, ...tuning } = options.streams;
      this.streams = new StreamConnection({
        ...tuning,
        url: url ?? options.gatewayUrl,
        insecureGateway: options.insecureGateway ?? false,
        credential: options.credential.credential,
        logger: this.logger.child({ component: "streams" }),
        targets: new StreamTargets(targets ? { cidrs: targets } : {}),
        activity: streamActivity,
      });
    }
  }

  /** Streams open on the data connection (0 without one). */
  get streamCount(): number {
    return this.streams?.streamCount ?? 0;
  }

  async start(): Promise<void> {
    await new StateDir({ dir: this.options.stateDir }).ensure();
    await this.journal.start();
    await this.lxd.start();
    // Before any command: instances LXD restarted at boot are fenced off from each other and the host.
    await this.firewall.start();
    // The saved peers are up before the control plane is asked: a rebooted host serves its devices at once.
    await this.wireguard?.start();
    this.executor.start();
    this.peerRefresh?.start();
    this.connection.start();
    this.metrics.start();
    this.streams?.start();
    this.logger.info("agent started", { version: this.options.agentVersion, stateDir: this.options.stateDir });
  }

  /** Drains work while still connected, so finished results reach the gateway before the socket closes. */
  async stop(): Promise<void> {
    this.logger.info("agent stopping");
    this.activity.stop();
    await this.streams?.stop();
    const { abandoned } = await this.executor.stop();
    this.metrics.stop();
    await this.connection.stop();
    this.peerRefresh?.stop();
    this.wireguard?.stop();
    this.firewall.stop();
    this.lxd.stop();
    await this.journal.stop();
    this.logger.info("agent stopped", { abandonedJobs: abandoned.length });
  }
}

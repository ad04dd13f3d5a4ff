import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Job } from "../../shared/db/schema";
import type { AgentMetrics } from "../../shared/protocol/messages";

/** Seconds: from a fast API call to a slow deploy (minutes). */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const JOB_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const LXD_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Figures read when Prometheus scrapes, from whoever holds them (the database, the gateway). */
export interface MetricSources {
  /** Open jobs by host name and status (queued: waiting in the host's queue; running: at its agent). */
  openJobs?: () => Promise<{ host: string; status: string; count: number }[]>;
  /** Hosts by state (online, offline, draining). */
  hosts?: () => Promise<{ state: string; count: number }[]>;
  /** Agent connections of this process's gateway by state (handshaking, established). */
  agentConnections?: () => { state: string; count: number }[];
}

/**
 * The control plane's Prometheus metrics on a registry of their own (one per process, made where
 * the services are composed and passed to whoever records: the request log, the gateway, the
 * ingress router), so a test can make a fresh one and read it.
 */
export class Metrics {
  readonly registry: Registry;
  private readonly sources: MetricSources = {};
  /** Label sets of the agents' state gauges per host, so a host that leaves takes its series along. */
  private readonly agentSeries = new Map<string, { instances: string[]; peers: string[] }>();

  readonly httpRequests: Counter<"method" | "route" | "status">;
  readonly httpDuration: Histogram<"method" | "route" | "status">;
  readonly jobsFinished: Counter<"kind" | "outcome">;
  readonly jobsFailed: Counter<"kind" | "code">;
  readonly jobDuration: Histogram<"kind" | "outcome">;
  readonly deadLetters: Counter<"kind">;
  readonly wsMessages: Counter<"direction" | "type">;
  readonly ingressRequests: Counter<"kind" | "status">;
  readonly ingressBytes: Counter<"direction">;
  readonly webhookDeliveries: Counter<"event" | "outcome">;
  readonly agentLxd: Histogram<"host" | "operation">;
  readonly agentInstances: Gauge<"host" | "state">;
  readonly agentPeers: Gauge<"host">;
  readonly agentHandshake: Gauge<"host" | "peer">;

  constructor(registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    this.httpRequests = new Counter({ name: "kws_http_requests_total", help: "HTTP requests to the API and pages, by route pattern and status", labelNames: ["method", "route", "status"], registers });
    this.httpDuration = new Histogram({ name: "kws_http_request_duration_seconds", help: "Time to answer an HTTP request of the API and pages", labelNames: ["method", "route", "status"], buckets: HTTP_BUCKETS, registers });
    this.jobsFinished = new Counter({ name: "kws_jobs_finished_total", help: "Jobs that ended, by kind and outcome (succeeded or failed)", labelNames: ["kind", "outcome"], registers });
    this.jobsFailed = new Counter({ name: "kws_jobs_failed_total", help: "Failed jobs by kind and error code", labelNames: ["kind", "code"], registers });
    this.jobDuration = new Histogram({ name: "kws_job_duration_seconds", help: "From a job's submission to its outcome, queueing included", labelNames: ["kind", "outcome"], buckets: JOB_BUCKETS, registers });
    this.deadLetters = new Counter({ name: "kws_jobs_dead_lettered_total", help: "Jobs whose message used up its delivery attempts and reached the dead-letter queue", labelNames: ["kind"], registers });
    this.wsMessages = new Counter({ name: "kws_gateway_messages_total", help: "Websocket messages between the gateway and the agents, by direction (in: from agents) and type", labelNames: ["direction", "type"], registers });
    this.ingressRequests = new Counter({ name: "kws_ingress_requests_total", help: "Requests to app hosts: proxied, or answered by KWS (sign_in, forbidden, stopped, not_found, unreachable...)", labelNames: ["kind", "status"], registers });
    this.ingressBytes = new Counter({ name: "kws_ingress_bytes_total", help: "Bytes through the ingress: received from clients (in), sent to them (out)", labelNames: ["direction"], registers });
    this.webhookDeliveries = new Counter({ name: "kws_webhook_deliveries_total", help: "Webhook deliveries by event and outcome", labelNames: ["event", "outcome"], registers });
    this.agentLxd = new Histogram({ name: "kws_agent_lxd_operation_seconds", help: "LXD calls of each host's agent, by operation, until the operation ended", labelNames: ["host", "operation"], buckets: LXD_BUCKETS, registers });
    this.agentInstances = new Gauge({ name: "kws_agent_instances", help: "Containers on each host by LXD state, as its agent last reported", labelNames: ["host", "state"], registers });
    this.agentPeers = new Gauge({ name: "kws_agent_wireguard_peers", help: "WireGuard peers on each host's interface", labelNames: ["host"], registers });
    this.agentHandshake = new Gauge({ name: "kws_agent_wireguard_latest_handshake_seconds", help: "Each WireGuard peer's latest handshake (Unix time; 0: none yet)", labelNames: ["host", "peer"], registers });

    const sources = this.sources;
    new Gauge({
      name: "kws_jobs_open",
      help: "Jobs not finished, by host and status: queued jobs are the depth of the host's queue",
      labelNames: ["host", "status"],
      registers,
      async collect() {
        this.reset();
        for (const row of (await sources.openJobs?.()) ?? []) this.set({ host: row.host, status: row.status }, row.count);
      },
    });
    new Gauge({
      name: "kws_hosts",
      help: "Hosts by state",
      labelNames: ["state"],
      registers,
      async collect() {
        this.reset();
        for (const row of (await sources.hosts?.()) ?? []) this.set({ state: row.state }, row.count);
      },
    });
    new Gauge({
      name: "kws_gateway_agent_connections",
      help: "Agent websockets held by this process's gateway, by state",
      labelNames: ["state"],
      registers,
      collect() {
        this.reset();
        for (const row of sources.agentConnections?.() ?? []) this.set({ state: row.state }, row.count);
      },
    });
  }

  /** Adds (or replaces) where scrape-time figures come from. */
  watch(sources: MetricSources): void {
    Object.assign(this.sources, sources);
  }

  httpRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);
  }

  /** A job's outcome was recorded (called once per job: by whoever's finish changed its row). */
  jobFinished(job: Job): void {
    const outcome = job.status === "succeeded" ? "succeeded" : "failed";
    this.jobsFinished.inc({ kind: job.kind, outcome });
    if (outcome === "failed") this.jobsFailed.inc({ kind: job.kind, code: job.error?.code ?? "unknown" });
    const end = job.finishedAt?.getTime() ?? Date.now();
    this.jobDuration.observe({ kind: job.kind, outcome }, Math.max(0, end - job.createdAt.getTime()) / 1000);
  }

  /** What an agent reported about its host (protocol 1.2 `metrics`). */
  agentReport(host: string, report: Omit<AgentMetrics, "v" | "id" | "type">): void {
    for (const { operation, seconds } of report.lxd) for (const s of seconds) this.agentLxd.observe({ host, operation }, s);
    this.clearAgentState(host);
    const series = { instances: Object.keys(report.instances), peers: [] as string[] };
    for (const [state, count] of Object.entries(report.instances)) this.agentInstances.set({ host, state }, count);
    if (report.wireguard) {
      this.agentPeers.set({ host }, report.wireguard.peers);
      for (const { publicKey, latestHandshakeAt } of report.wireguard.handshakes) {
        this.agentHandshake.set({ host, peer: publicKey }, latestHandshakeAt ?? 0);
        series.peers.push(publicKey);
      }
    }
    this.agentSeries.set(host, series);
  }

  /** The host's agent left: its state gauges go (its LXD timings stay, as counters do). */
  clearAgentState(host: string): void {
    const series = this.agentSeries.get(host);
    if (!series) return;
    for (const state of series.instances) this.agentInstances.remove({ host, state });
    for (const peer of series.peers) this.agentHandshake.remove({ host, peer });
    this.agentPeers.remove({ host });
    this.agentSeries.delete(host);
  }

  /** The text Prometheus scrapes. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

import type { Logger } from "../shared/logger";
import type { AgentMessageBody, AgentMetrics } from "../shared/protocol/messages";
import type { LxdClient } from "./lxd/client";
import type { WireGuard } from "./wireguard/manager";

type Report = Extract<AgentMessageBody, { type: "metrics" }>;
type InstanceState = keyof AgentMetrics["instances"];

const STATES = new Set<string>(["Running", "Stopped", "Frozen", "Error"]);
// A report carries at most this many timings per operation (the protocol's bound); older ones are dropped first.
const MAX_SAMPLES = 1000;

export interface AgentMetricsOptions {
  lxd: () => LxdClient | undefined;
  wireguard?: Pick<WireGuard, "status">;
  /** Sends a report; false when it could not go out (not connected): its timings are kept for the next. */
  send: (report: Report) => boolean;
  logger: Logger;
  /** How often the state (instances, WireGuard) is reported even when no job ran. */
  intervalMs?: number;
  /** How long after a job's result the report follows, so the timings of a burst go together. */
  settleMs?: number;
}

/**
 * The agent's own figures for the control plane's /metrics (protocol 1.2 `metrics`): how long each
 * LXD call took, the host's containers by state and its WireGuard peers with their handshakes.
 * Sent after jobs finish and every `intervalMs`.
 */
export class AgentMetricsReporter {
  private samples = new Map<string, number[]>();
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;

  constructor(private readonly o: AgentMetricsOptions) {}

  /** The LXD client's timing hook. */
  readonly recordLxd = (operation: string, seconds: number): void => {
    const list = this.samples.get(operation) ?? [];
    list.push(seconds);
    if (list.length > MAX_SAMPLES) list.splice(0, list.length - MAX_SAMPLES);
    this.samples.set(operation, list);
  };

  start(): void {
    this.timer = setInterval(() => void this.report(), this.o.intervalMs ?? 15_000);
    this.timer.unref();
  }

  /** A job ended: report shortly. */
  jobEnded(): void {
    if (this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      void this.report();
    }, this.o.settleMs ?? 500);
    this.soon.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.soon);
  }

  report(): Promise<void> {
    this.sending ??= this.collectAndSend()
      .catch((err: unknown) => this.o.logger.warn("could not report metrics", { err }))
      .finally(() => (this.sending = undefined));
    return this.sending;
  }

  private async collectAndSend(): Promise<void> {
    const [instances, wireguard] = await Promise.all([this.instances(), this.wireguard()]);
    const taken = this.samples;
    this.samples = new Map();
    const report: Report = {
      type: "metrics",
      lxd: [...taken].slice(0, 100).map(([operation, seconds]) => ({ operation, seconds })),
      instances,
      ...(wireguard ? { wireguard } : {}),
    };
    if (!this.o.send(report)) {
      for (const [operation, seconds] of taken) for (const s of seconds) this.recordLxd(operation, s);
    }
  }

  private async instances(): Promise<Report["instances"]> {
    const counts: Report["instances"] = {};
    const lxd = this.o.lxd();
    if (!lxd) return counts;
    for (const instance of await lxd.listInstances()) {
      const state = (STATES.has(instance.status) ? instance.status : "Other") as InstanceState;
      counts[state] = (counts[state] ?? 0) + 1;
    }
    return counts;
  }

  private async wireguard(): Promise<Report["wireguard"]> {
    if (!this.o.wireguard) return undefined;
    const status = await this.o.wireguard.status().catch(() => undefined);
    if (!status) return undefined;
    return {
      peers: status.peers.length,
      handshakes: status.peers.map((p) => ({
        publicKey: p.publicKey,
        latestHandshakeAt: p.latestHandshakeAt ? Math.floor(Date.parse(p.latestHandshakeAt) / 1000) : null,
      })),
    };
  }
}

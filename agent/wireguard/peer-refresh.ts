import type { Logger } from "../../shared/logger";
import type { WireGuardPeer } from "../../shared/protocol/wireguard";
import type { SyncResult, WireGuard } from "./manager";

export interface PeerRefreshOptions {
  wireguard: Pick<WireGuard, "changes" | "syncUnlessChanged">;
  /** Sends a wg-peers-request: its message id, or undefined when none can go out now (offline, or an older gateway). */
  request: () => string | undefined;
  logger: Logger;
  /** How often to ask besides after each welcome (default 5 minutes, the manager's repair period). */
  intervalMs?: number;
  /** A request unanswered this long is forgotten; the next welcome or interval asks again (default 10 s). */
  answerTimeoutMs?: number;
  /** Stale answers in a row that are followed by a new request at once (default 3). */
  maxRetries?: number;
}

interface Pending {
  id: string;
  /** The manager's command count when the request went out. */
  changes: number;
  retries: number;
  timer: NodeJS.Timeout;
}

/**
 * Keeps the interface's peers in step with PostgreSQL: asks the control plane for the host's whole
 * desired peer set after each welcome and every few minutes, and syncs to the answer. Until an
 * answer arrives, and while the gateway is out of reach, the manager keeps applying the saved set.
 */
export class PeerRefresh {
  private readonly options: PeerRefreshOptions;
  private readonly logger: Logger;
  private pending: Pending | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: PeerRefreshOptions) {
    this.options = options;
    this.logger = options.logger.child({ component: "wireguard-refresh" });
  }

  start(): void {
    this.timer = setInterval(() => this.ask(), this.options.intervalMs ?? 5 * 60_000);
  }

  stop(): void {
    clearInterval(this.timer);
    this.forget();
  }

  /** Sends a request now; an unanswered earlier one is superseded. */
  ask(retries = 0): void {
    this.forget();
    // Taken before the request leaves: any command counted after it may be missing from the answer.
    const changes = this.options.wireguard.changes;
    const id = this.options.request();
    if (id === undefined) return;
    const timer = setTimeout(() => {
      this.pending = undefined;
      this.logger.warn("no answer to the wireguard peers request: asking again later", { requestId: id });
    }, this.options.answerTimeoutMs ?? 10_000);
    this.pending = { id, changes, retries, timer };
  }

  /** Applies the answer to the outstanding request. Never throws: failures are logged, the next interval tries again. */
  async answer(requestId: string, peers: readonly WireGuardPeer[]): Promise<void> {
    const pending = this.pending;
    if (pending?.id !== requestId) {
      this.logger.info("ignoring an answer to an abandoned wireguard peers request", { requestId });
      return;
    }
    this.forget();
    let result: SyncResult | undefined;
    try {
      result = await this.options.wireguard.syncUnlessChanged(peers, pending.changes);
    } catch (err) {
      this.logger.error("applying the control plane's wireguard peers failed", { err });
      return;
    }
    if (result) {
      if (result.added || result.updated || result.removed) this.logger.info("wireguard peers refreshed from the control plane", { ...result });
      return;
    }
    // A peer command ran after the control plane read the set: the answer could undo it.
    const maxRetries = this.options.maxRetries ?? 3;
    if (pending.retries >= maxRetries) {
      this.logger.warn("wireguard peers answers keep being overtaken by peer commands: asking again at the next interval", { retries: pending.retries });
      return;
    }
    this.logger.info("dropped a stale wireguard peers answer: asking again", { requestId });
    this.ask(pending.retries + 1);
  }

  private forget(): void {
    clearTimeout(this.pending?.timer);
    this.pending = undefined;
  }
}

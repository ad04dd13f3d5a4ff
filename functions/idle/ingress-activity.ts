import type { Db } from "../../shared/db";
import type { Logger } from "../../shared/logger";
import { recordIngress } from "./queries";

export interface IngressActivityOptions {
  db: Db;
  logger: Logger;
  /** How long requests are gathered before one write (default 5 s: well under any idle time). */
  flushMs?: number;
}

/**
 * Requests through the ingress, per instance: the router notes each in memory, and what was noted
 * is written in one statement a few seconds later, so a busy app costs no write per request.
 */
export class IngressActivity {
  private readonly seen = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly o: IngressActivityOptions) {}

  touch(instanceId: string | null): void {
    // A tunnel has no instance to keep awake.
    if (instanceId) this.seen.set(instanceId, performance.now());
    if (this.timer) return;
    this.timer = setTimeout(() => void this.flush(), this.o.flushMs ?? 5000);
    this.timer.unref?.();
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = performance.now();
    const batch = [...this.seen].map(([instanceId, at]) => ({ instanceId, ageMs: Math.max(0, now - at) }));
    this.seen.clear();
    await recordIngress(this.o.db, batch).catch((err: unknown) => this.o.logger.warn("ingress activity not recorded", { instances: batch.length, err }));
  }
}

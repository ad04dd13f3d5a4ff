import { and, isNull, lt } from "drizzle-orm";
import type { Database } from "../../shared/db";
import { users } from "../../shared/db/schema";
import type { Logger } from "../../shared/logger";

/** How long an account may stay unverified before it is deleted and its address and name are free. */
export const UNVERIFIED_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;

/** Accounts created before this instant and still unverified are past their lifetime. */
export const staleBefore = (now = Date.now()) => new Date(now - UNVERIFIED_LIFETIME_MS);

/** Deletes every unverified account past its lifetime; answers how many. */
export async function deleteStaleUnverified(db: Database, now = Date.now()): Promise<number> {
  const gone = await db
    .delete(users)
    .where(and(isNull(users.verifiedAt), lt(users.createdAt, staleBefore(now))))
    .returning({ id: users.id });
  return gone.length;
}

export interface UnverifiedSweeperOptions {
  db: Database;
  logger: Logger;
  intervalMs?: number;
}

/** The control plane's periodic clean-up of accounts nobody verified within their lifetime. */
export class UnverifiedAccountSweeper {
  private timer?: ReturnType<typeof setInterval>;
  private running?: Promise<void>;

  constructor(private readonly o: UnverifiedSweeperOptions) {}

  start() {
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), this.o.intervalMs ?? 60 * 60 * 1000);
    this.timer.unref?.();
  }

  /** One pass; a pass already running is waited for instead of started again. */
  sweep(now = Date.now()): Promise<void> {
    this.running ??= deleteStaleUnverified(this.o.db, now)
      .then((deleted) => {
        if (deleted > 0) this.o.logger.info("unverified accounts deleted", { deleted });
      })
      .catch((err: unknown) => this.o.logger.error("unverified account sweep failed", { err }))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  async stop() {
    clearInterval(this.timer);
    await this.running;
  }
}

import type { Database } from "../../../shared/db";
import type { Job } from "../../../shared/db/schema";

/** What a finished job changes besides its own row, in the transaction that records its outcome. */
export type OutcomeHandler = (tx: Database, job: Job) => Promise<void>;

/**
 * The capabilities' outcome handlers by job kind prefix ("instance." → instances). The job store
 * knows no resource type: the composition root (functions/job-outcomes.ts) registers each
 * capability's handler; kinds no handler claims (noop, host.facts) change only their own row.
 */
export class JobOutcomes {
  private readonly handlers = new Map<string, OutcomeHandler>();
  private readonly failureHandlers: OutcomeHandler[] = [];

  /** Registering a prefix again replaces its handler, so composing twice in a process is harmless. */
  register(prefix: string, handler: OutcomeHandler): void {
    this.handlers.set(prefix, handler);
  }

  /**
   * `handler` runs for every job that fails, whatever its kind, after the kind's own handler and in
   * the same transaction. Registering the same function again is harmless.
   */
  onFailure(handler: OutcomeHandler): void {
    if (!this.failureHandlers.includes(handler)) this.failureHandlers.push(handler);
  }

  /** Whether failures have effects: then no failed job is finished by the batch without effects. */
  get failuresHaveEffects(): boolean {
    return this.failureHandlers.length > 0;
  }

  /** Everything a finished job changes besides its row. */
  async apply(tx: Database, job: Job): Promise<void> {
    await this.handlerFor(job.kind)?.(tx, job);
    if (job.status === "failed") for (const handler of this.failureHandlers) await handler(tx, job);
  }

  /** The registered prefixes, for the batch statement that finishes the jobs without effects. */
  get prefixes(): string[] {
    return [...this.handlers.keys()];
  }

  handlerFor(kind: string): OutcomeHandler | undefined {
    for (const [prefix, handler] of this.handlers) if (kind.startsWith(prefix)) return handler;
    return undefined;
  }
}

/** The process's registry, read by the job store whenever it records an outcome. */
export const jobOutcomes = new JobOutcomes();

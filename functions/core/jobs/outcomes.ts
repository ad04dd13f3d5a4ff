import type { Database } from "../../../shared/db";
import type { Job } from "../../../shared/db/schema";

/** What a finished job changes besides its own row, in the transaction that records its outcome. */
export type OutcomeHandler = (tx: Database, job: Job) => Promise<void>;

/**
 * Whether a failed job may run again: its resource still waits on it (the job is still the
 * resource's latest), so a redrive cannot act on what has moved on (a killed instance, a device
 * deleted since).
 */
export type RedriveCheck = (tx: Database, job: Job) => Promise<boolean>;

/**
 * The capabilities' outcome handlers by job kind prefix ("instance." → instances). The job store
 * knows no resource type: the composition root (functions/job-outcomes.ts) registers each
 * capability's handler; kinds no handler claims (noop, host.facts) change only their own row.
 */
export class JobOutcomes {
  private readonly handlers = new Map<string, OutcomeHandler>();
  private readonly redriveChecks = new Map<string, RedriveCheck>();

  /** Registering a prefix again replaces its handler, so composing twice in a process is harmless. */
  register(prefix: string, handler: OutcomeHandler, redrivable?: RedriveCheck): void {
    this.handlers.set(prefix, handler);
    if (redrivable) this.redriveChecks.set(prefix, redrivable);
  }

  /** Whether the job may be redriven: kinds without a check change nothing else, so they may. */
  async redrivable(tx: Database, job: Job): Promise<boolean> {
    for (const [prefix, check] of this.redriveChecks) if (job.kind.startsWith(prefix)) return check(tx, job);
    return true;
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

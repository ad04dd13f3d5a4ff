import type { Database } from "../../../shared/db";
import type { Job } from "../../../shared/db/schema";

/**
 * What a finished job changes besides its own row, in the transaction that records its outcome. It
 * answers the jobs it inserted there that must be sent once that transaction commits (work that
 * waited for this job to end), if any.
 */
export type OutcomeHandler = (tx: Database, job: Job) => Promise<Job[] | void>;

/** Sends a job whose row is committed: its message to its host's queue. */
export type JobPublisher = (job: Job) => Promise<void>;

/**
 * The capabilities' outcome handlers by job kind prefix ("instance." → instances). The job store
 * knows no resource type: the composition root (functions/job-outcomes.ts) registers each
 * capability's handler; kinds no handler claims (noop, host.facts) change only their own row.
 */
export class JobOutcomes {
  private readonly handlers = new Map<string, OutcomeHandler>();
  private readonly publishers = new WeakMap<Database, JobPublisher>();

  /** Registering a prefix again replaces its handler, so composing twice in a process is harmless. */
  register(prefix: string, handler: OutcomeHandler): void {
    this.handlers.set(prefix, handler);
  }

  /** The registered prefixes, for the batch statement that finishes the jobs without effects. */
  get prefixes(): string[] {
    return [...this.handlers.keys()];
  }

  /** The handler of the longest registered prefix of `kind`: "instance.exec" wins over "instance.". */
  handlerFor(kind: string): OutcomeHandler | undefined {
    let best: string | undefined;
    for (const prefix of this.handlers.keys()) if (kind.startsWith(prefix) && prefix.length > (best?.length ?? -1)) best = prefix;
    return best === undefined ? undefined : this.handlers.get(best);
  }

  /**
   * How the jobs that handlers start are sent for outcomes recorded through `db`: set where that
   * database's queue is composed (per database, as test processes compose several).
   */
  publishThrough(db: Database, publish: JobPublisher): void {
    this.publishers.set(db, publish);
  }

  publisherFor(db: Database): JobPublisher | undefined {
    return this.publishers.get(db);
  }
}

/** The process's registry, read by the job store whenever it records an outcome. */
export const jobOutcomes = new JobOutcomes();

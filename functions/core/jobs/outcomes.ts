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
  private readonly publishers = new WeakMap<Database, JobPublisher>();
  private readonly redriveChecks = new Map<string, RedriveCheck>();
  private readonly failureHandlers: OutcomeHandler[] = [];

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

  /** Everything a finished job changes besides its row; answers the jobs to send once it commits. */
  async apply(tx: Database, job: Job): Promise<Job[]> {
    const next = (await this.handlerFor(job.kind)?.(tx, job)) ?? [];
    if (job.status === "failed") for (const handler of this.failureHandlers) await handler(tx, job);
    return next;
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

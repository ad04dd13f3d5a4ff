import { and, eq, getTableColumns, inArray, lt, notInArray, sql } from "drizzle-orm";
import type { Database, Db } from "../../../shared/db";
import { coalesce } from "../../../shared/db/coalesce";
import { perDatabase } from "../../../shared/db/per-database";
import { jobs, type Job, type JobError } from "../../../shared/db/schema";
import { AppError } from "../errors";
import { jobOutcomes } from "./outcomes";

export const OPEN_STATUSES = ["queued", "running"] as const;
export const isFinal = (status: Job["status"]) => status === "succeeded" || status === "failed";

const jobById = perDatabase((db) => db.select().from(jobs).where(eq(jobs.id, sql.placeholder("id"))).limit(1).prepare("job_by_id"));

export async function getJob(db: Database, id: string): Promise<Job | undefined> {
  const [row] = await jobById(db).execute({ id });
  return row;
}

/**
 * 409 while a resource's latest job is still open: one job at a time per resource, never a second.
 * The error names the running job, so the client can follow it instead.
 */
export async function refuseWhileOpen(db: Database, jobId: string | null, subject: string): Promise<void> {
  if (!jobId) return;
  const job = await getJob(db, jobId);
  if (job && !isFinal(job.status)) {
    throw new AppError("conflict", `${subject} is busy with a job (${job.kind}); wait for it to end`, { jobId: job.id });
  }
}

export type NewJob = Pick<Job, "hostId" | "userId" | "kind" | "payload" | "deadline"> & { id?: string };

export async function insertJob(db: Db, values: NewJob): Promise<Job> {
  const [row] = await insertJobs(db, [values]);
  return row!;
}

/** Several jobs in one statement; the rows come back in the values' order. */
export async function insertJobs(db: Db, values: readonly NewJob[]): Promise<Job[]> {
  const withIds = values.map((v) => ({ ...v, id: v.id ?? crypto.randomUUID() }));
  const rows = await db.insert(jobs).values(withIds).returning();
  return inOrder(withIds, rows).map((row) => row!);
}

export interface RunningMark {
  id: string;
  hostId: string;
  attempt: number;
}

/**
 * Deliveries are going to the agents: running, with the attempt number, in one statement. Only an
 * open job of the mark's host changes; undefined (in the mark's place) means there is nothing to
 * do (missing, final, or another host's).
 */
export async function markRunningJobs(db: Database, marks: readonly RunningMark[]): Promise<(Job | undefined)[]> {
  const rows = await markRunningBatch(db).execute({ batch: byIdJson(marks) });
  return inOrder(marks, rows);
}

/**
 * The batch statements read their items from one jsonb parameter, `{jobId: item}`, joined as
 * `batch(id, item)`: the statement's text is the same for any number of jobs, so it is built and
 * prepared once.
 */
const batchFrom = sql`jsonb_each(${sql.placeholder("batch")}::jsonb) as batch(id, item)`;
/**
 * The batch's jobs, found through the primary key, that are not final yet. Written so that the
 * planner cannot pick anything else: joined with jsonb_each alone it scans the whole table, and
 * with `status in ('queued', 'running')` it takes the partial index of open jobs, which under
 * churn holds thousands of dead entries until the next vacuum (3.7 ms a statement, measured).
 */
const openInBatch = and(
  sql`${jobs.id} = any(array(select jsonb_object_keys(${sql.placeholder("batch")}::jsonb)::uuid))`,
  sql`${jobs.id} = batch.id::uuid`,
  notInArray(jobs.status, ["succeeded", "failed"]),
);

const markRunningBatch = perDatabase((db) =>
  db
    .update(jobs)
    .set({
      status: "running",
      attempts: sql`(batch.item ->> 'attempt')::int`,
      startedAt: sql`coalesce(${jobs.startedAt}, now())`,
      updatedAt: sql`now()`,
    })
    .from(batchFrom)
    .where(and(openInBatch, sql`${jobs.hostId}::text = batch.item ->> 'hostId'`))
    .returning(getTableColumns(jobs))
    .prepare("jobs_mark_running"),
);

/** The marks that arrive together (a socket read's deliveries, from any agent) share one statement. */
const runningBatches = perDatabase((db: Database) => coalesce((marks: RunningMark[]) => markRunningJobs(db, marks)));

export function markRunning(db: Database, mark: RunningMark): Promise<Job | undefined> {
  return runningBatches(db)(mark);
}

/** Appends one progress step, atomically (jsonb concatenation), to an open job of that host. */
export async function appendStep(db: Database, id: string, hostId: string, step: string, message: string): Promise<boolean> {
  const entry = JSON.stringify([{ step, message, at: new Date().toISOString() }]);
  const rows = await db
    .update(jobs)
    .set({ steps: sql`${jobs.steps} || ${entry}::jsonb`, updatedAt: sql`now()` })
    .where(and(eq(jobs.id, id), eq(jobs.hostId, hostId), inArray(jobs.status, [...OPEN_STATUSES])))
    .returning({ id: jobs.id });
  return rows.length > 0;
}

export type Outcome = { ok: true; data: unknown } | { ok: false; error: JobError };

export interface Finish {
  id: string;
  outcome: Outcome;
  /** When given, the job must be this host's. */
  hostId?: string;
}

/**
 * Records final outcomes once: a job that is already final keeps its first outcome, so a resent
 * result or a late reaper cannot overwrite it. Undefined (in the finish's place) means nothing
 * changed. What an outcome means for the resource the job worked on is applied in the same
 * transaction as the job's row.
 */
export async function finishJobs(db: Database, finishes: readonly Finish[]): Promise<(Job | undefined)[]> {
  // Most jobs change nothing else: one statement for all of them, no transaction. Failures go to
  // finishWithEffects when something is registered to happen on any failure.
  const plainFinishes = jobOutcomes.failuresHaveEffects ? finishes.filter((f) => f.outcome.ok) : finishes;
  const byId = byIdJson(
    plainFinishes.map((f) => ({
      id: f.id,
      hostId: f.hostId ?? null,
      status: f.outcome.ok ? "succeeded" : "failed",
      result: f.outcome.ok ? (f.outcome.data ?? null) : null,
      error: f.outcome.ok ? null : f.outcome.error,
    })),
  );
  const plain = plainFinishes.length ? await finishPlainBatch(db).execute({ batch: byId, effectPrefixes: JSON.stringify(jobOutcomes.prefixes) }) : [];
  const done = inOrder(finishes, plain, true);
  // The rest are jobs with effects, or jobs that are final already (the transaction finds nothing).
  return Promise.all(finishes.map((f, i) => done[i] ?? finishWithEffects(db, f)));
}

// Jobs whose kind has a registered outcome handler (a prefix of `effectPrefixes`) are left to finishWithEffects.
const finishPlainBatch = perDatabase((db) =>
  db
    .update(jobs)
    .set({
      status: sql`batch.item ->> 'status'`,
      result: sql`case when batch.item ->> 'status' = 'succeeded' then nullif(batch.item -> 'result', 'null'::jsonb) else ${jobs.result} end`,
      error: sql`case when batch.item ->> 'status' = 'failed' then batch.item -> 'error' else ${jobs.error} end`,
      finishedAt: sql`now()`,
      updatedAt: sql`now()`,
    })
    .from(batchFrom)
    .where(
      and(
        openInBatch,
        sql`${jobs.hostId}::text = coalesce(batch.item ->> 'hostId', ${jobs.hostId}::text)`,
        sql`not exists (select from jsonb_array_elements_text(${sql.placeholder("effectPrefixes")}::jsonb) as effect(prefix) where starts_with(${jobs.kind}, effect.prefix))`,
      ),
    )
    .returning(getTableColumns(jobs))
    .prepare("jobs_finish_plain"),
);

/** The outcomes that arrive together (results of all agents, a reaper's sweep) share one statement. */
const finishBatches = perDatabase((db: Database) => coalesce((finishes: Finish[]) => finishJobs(db, finishes)));

export function finishJob(db: Database, id: string, outcome: Outcome, hostId?: string): Promise<Job | undefined> {
  return finishBatches(db)({ id, outcome, hostId });
}

async function finishWithEffects(db: Database, { id, outcome, hostId }: Finish): Promise<Job | undefined> {
  const conditions = [eq(jobs.id, id), inArray(jobs.status, [...OPEN_STATUSES])];
  if (hostId) conditions.push(eq(jobs.hostId, hostId));
  const set = outcome.ok
    ? { status: "succeeded" as const, result: outcome.data ?? null, finishedAt: sql`now()`, updatedAt: sql`now()` }
    : { status: "failed" as const, error: outcome.error, finishedAt: sql`now()`, updatedAt: sql`now()` };
  const { row, next } = await db.transaction(async (tx) => {
    const [row] = await tx.update(jobs).set(set).where(and(...conditions)).returning();
    const next = row ? await jobOutcomes.apply(tx, row) : [];
    return { row, next };
  });
  await sendNext(db, next);
  return row;
}

/**
 * Tells the gateways about the jobs an outcome started, now that they are committed. Without a
 * publisher in this process the jobs still go out: the gateways' rescans find them.
 */
async function sendNext(db: Database, next: Job[]): Promise<void> {
  const publish = jobOutcomes.publisherFor(db);
  if (publish) for (const job of next) await publish(job).catch(() => undefined);
}

/** The items of a batch as one JSON object keyed by job id (the first item of an id), for a statement to read per row. */
function byIdJson(items: readonly { id: string }[]): string {
  const byId: Record<string, unknown> = {};
  for (const item of items) byId[item.id] ??= item;
  return JSON.stringify(byId);
}

/**
 * The rows a batch statement returned, in the items' places. With `firstOnly` a row goes to the
 * first item of its id only: a second finish of a job in the same batch changed nothing.
 */
function inOrder(items: readonly { id: string }[], rows: readonly Job[], firstOnly = false): (Job | undefined)[] {
  const byId = new Map(rows.map((row) => [row.id, row]));
  return items.map((item) => {
    const row = byId.get(item.id);
    if (firstOnly) byId.delete(item.id);
    return row;
  });
}

/** Open jobs whose deadline has passed. */
export function overdueJobs(db: Database, now = new Date(), limit = 500): Promise<Job[]> {
  return db
    .select()
    .from(jobs)
    .where(and(inArray(jobs.status, [...OPEN_STATUSES]), lt(jobs.deadline, now)))
    .limit(limit);
}

import { and, eq, inArray, lt, notLike, sql } from "drizzle-orm";
import type { Database } from "../db";
import { jobs, type Job, type JobError } from "../db/schema";
import { AppError } from "../errors";
import { applyJobEffects, EFFECT_KIND_PREFIXES } from "./effects";

export const OPEN_STATUSES = ["queued", "running"] as const;
export const isFinal = (status: Job["status"]) => status === "succeeded" || status === "failed";

export async function getJob(db: Database, id: string): Promise<Job | undefined> {
  const [row] = await db.select().from(jobs).where(eq(jobs.id, id)).limit(1);
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

export async function insertJob(
  db: Database,
  values: Pick<Job, "hostId" | "userId" | "kind" | "payload" | "deadline"> & { id?: string },
): Promise<Job> {
  const [row] = await db.insert(jobs).values(values).returning();
  return row!;
}

/**
 * A delivery is going to the agent: running, with the attempt number. Only an open job of that
 * host changes; undefined means there is nothing to do (missing, final, or another host's).
 */
export async function markRunning(db: Database, id: string, hostId: string, attempt: number): Promise<Job | undefined> {
  const [row] = await db
    .update(jobs)
    .set({ status: "running", attempts: attempt, startedAt: sql`coalesce(${jobs.startedAt}, now())`, updatedAt: sql`now()` })
    .where(and(eq(jobs.id, id), eq(jobs.hostId, hostId), inArray(jobs.status, [...OPEN_STATUSES])))
    .returning();
  return row;
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

/**
 * Records the final outcome once: a job that is already final keeps its first outcome,
 * so a resent result or a late reaper cannot overwrite it. `hostId` (when given) must match.
 * What the outcome means for the resource the job worked on is applied in the same transaction.
 */
export async function finishJob(db: Database, id: string, outcome: Outcome, hostId?: string): Promise<Job | undefined> {
  const conditions = [eq(jobs.id, id), inArray(jobs.status, [...OPEN_STATUSES])];
  if (hostId) conditions.push(eq(jobs.hostId, hostId));
  const set = outcome.ok
    ? { status: "succeeded" as const, result: outcome.data ?? null, finishedAt: sql`now()`, updatedAt: sql`now()` }
    : { status: "failed" as const, error: outcome.error, finishedAt: sql`now()`, updatedAt: sql`now()` };
  // Most jobs change nothing else: one statement, no transaction (three round trips fewer per job).
  const [plain] = await db
    .update(jobs)
    .set(set)
    .where(and(...conditions, ...EFFECT_KIND_PREFIXES.map((prefix) => notLike(jobs.kind, `${prefix}%`))))
    .returning();
  if (plain) return plain;
  return db.transaction(async (tx) => {
    const [row] = await tx.update(jobs).set(set).where(and(...conditions)).returning();
    if (row) await applyJobEffects(tx, row);
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

export function openJobs(db: Database, limit = 10_000): Promise<Job[]> {
  return db.select().from(jobs).where(inArray(jobs.status, [...OPEN_STATUSES])).limit(limit);
}

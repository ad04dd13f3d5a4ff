import { and, eq, sql } from "drizzle-orm";
import type { Database } from "../../../shared/db";
import { jobs, type Job } from "../../../shared/db/schema";
import { AppError } from "../errors";
import { jobOutcomes } from "./outcomes";
import { publishJob } from "./submit";
import type { Logger } from "../../../shared/logger";
import type { QueuePort } from "../../../shared/queue/port";
import { getJob } from "./store";

/**
 * The failures after which the agent never finished the work (its result never came), so running
 * the job again does it for the first time. A job the agent did finish keeps its outcome: the
 * agent's journal would answer a redelivery with the same result.
 */
export const REDRIVABLE_CODES = ["attempts_exhausted", "deadline_passed", "queue_unavailable"] as const;

export const isRedrivable = (job: Job) => job.status === "failed" && (REDRIVABLE_CODES as readonly string[]).includes(job.error?.code ?? "");

/**
 * Runs a failed job again (an administrator's redrive of a dead-lettered or timed-out job): back to
 * queued with a new deadline, and its host's gateway told. Refused (409) for a job
 * that is not failed that way, or whose resource has moved on since.
 */
export async function redriveFailedJob(db: Database, queue: QueuePort, log: Logger, id: string, deadlineSeconds: number): Promise<Job> {
  const requeued = await db.transaction(async (tx) => {
    const [job] = await tx.select().from(jobs).where(eq(jobs.id, id)).for("update");
    if (!job) throw new AppError("not_found", "no such job");
    if (!isRedrivable(job)) {
      throw new AppError("conflict", `only jobs whose agent never finished them can be redriven (failed with ${REDRIVABLE_CODES.join(", ")}); this one is ${job.status}${job.error ? ` (${job.error.code})` : ""}`);
    }
    if (!(await jobOutcomes.redrivable(tx, job))) throw new AppError("conflict", "what this job worked on has moved on since (a newer job, or it is gone)");
    const [row] = await tx
      .update(jobs)
      .set({
        status: "queued",
        attempts: 0,
        connectionId: null,
        error: null,
        result: null,
        startedAt: null,
        finishedAt: null,
        deadline: new Date(Date.now() + deadlineSeconds * 1000),
        steps: sql`${jobs.steps} || ${JSON.stringify([{ step: "redrive", message: `redriven after ${job.error?.code}: ${job.error?.message}`, at: new Date().toISOString() }])}::jsonb`,
        updatedAt: new Date(),
      })
      .where(and(eq(jobs.id, id), eq(jobs.status, "failed")))
      .returning();
    return row!;
  });
  await publishJob(db, queue, log, requeued);
  log.info("job redriven", { jobId: id, kind: requeued.kind });
  return (await getJob(db, id)) ?? requeued;
}

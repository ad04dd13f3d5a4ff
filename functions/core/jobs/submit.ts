import type { Database } from "../../../shared/db";
import type { Job } from "../../../shared/db/schema";
import { AppError } from "../errors";
import type { Logger } from "../../../shared/logger";
import type { QueuePort } from "../../../shared/queue/port";
import { coalesce } from "../../../shared/db/coalesce";
import { perDatabase } from "../../../shared/db/per-database";
import { finishJob, insertJobs, type NewJob } from "./store";
import { hostQueue, JOB_MAX_ATTEMPTS, type JobMessage } from "./queue-names";

export interface SubmitJob {
  hostId: string;
  userId: string | null;
  kind: string;
  payload: Record<string, unknown>;
  deadlineSeconds: number;
}

/**
 * A job is a row first, then a message: the row exists before any agent can see the work.
 * If publishing fails the row is failed at once (nothing waits for a message that never came);
 * if the process dies between the two, the deadline reaper fails the row.
 */
export async function submitJob(db: Database, queue: QueuePort, log: Logger, job: SubmitJob): Promise<Job> {
  const row = await batchedInsert(db)({
    hostId: job.hostId,
    userId: job.userId,
    kind: job.kind,
    payload: job.payload,
    deadline: new Date(Date.now() + job.deadlineSeconds * 1000),
  });
  await publishJob(db, queue, log, row);
  return row;
}

/** The submits that arrive together share one INSERT (and one commit). */
const batchedInsert = perDatabase((db) => coalesce((values: NewJob[]) => insertJobs(db, values)));

/**
 * Sends the message of a job whose row is committed (by submitJob, or by a caller that inserted
 * it in a transaction of its own together with the resource it changes).
 */
export async function publishJob(db: Database, queue: QueuePort, log: Logger, row: Job): Promise<void> {
  try {
    const queueName = hostQueue(row.hostId);
    await queue.declare(queueName, { maxAttempts: JOB_MAX_ATTEMPTS });
    await queue.publish(queueName, { jobId: row.id } satisfies JobMessage);
  } catch (err) {
    log.error("job publish failed", { jobId: row.id, err });
    await finishJob(db, row.id, { ok: false, error: { code: "queue_unavailable", message: "the job queue did not accept the job" } });
    throw new AppError("unavailable", "the job queue is not available; try again shortly");
  }
  log.info("job queued", { jobId: row.id, hostId: row.hostId, kind: row.kind });
}

import type { Database } from "../../../shared/db";
import type { Logger } from "../../../shared/logger";
import type { QueuePort } from "../../../shared/queue/port";
import { hostQueue, JOB_MAX_ATTEMPTS, type JobMessage } from "./queue-names";
import { openJobs } from "./store";

/**
 * Publishes a message for every open job. Used where the queue cannot have kept them (the
 * in-process queue after a restart); duplicates are harmless because delivery of a final job is
 * a no-op and agents answer a repeated job id from their journal.
 */
export async function redriveOpenJobs(db: Database, queue: QueuePort, log: Logger): Promise<number> {
  const open = await openJobs(db);
  for (const job of open) {
    const name = hostQueue(job.hostId);
    await queue.declare(name, { maxAttempts: JOB_MAX_ATTEMPTS });
    await queue.publish(name, { jobId: job.id } satisfies JobMessage);
  }
  if (open.length > 0) log.info("open jobs queued again after a restart", { count: open.length });
  return open.length;
}

import type { Database } from "../../shared/db";
import type { Job } from "../../shared/db/schema";
import { recordEvent } from "../webhooks/outbox";
import { presentJob } from "./schemas";

/** A person's job failed: a `job.failed` event, in the transaction that records the failure. */
export async function recordJobFailed(tx: Database, job: Job): Promise<void> {
  if (job.userId) await recordEvent(tx, job.userId, "job.failed", presentJob(job));
}

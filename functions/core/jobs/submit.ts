import type { Database } from "../../../shared/db";
import type { Job } from "../../../shared/db/schema";
import type { Logger } from "../../../shared/logger";
import type { QueuePort } from "../../../shared/queue/port";
import { coalesce } from "../../../shared/db/coalesce";
import { perDatabase } from "../../../shared/db/per-database";
import { insertJobs, type NewJob } from "./store";
import { gatewayOf, notifyGateway } from "./notices";

export interface SubmitJob {
  hostId: string;
  userId: string | null;
  kind: string;
  payload: Record<string, unknown>;
  deadlineSeconds: number;
}

/**
 * A job is a row: committed, it is as good as delivered (functions/core/jobs/notices.ts). The notice
 * to the gateway holding the host only saves the wait for that gateway's next rescan.
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
 * Tells the gateway holding the host of a committed job (submitJob's, or one a caller inserted in a
 * transaction of its own with the resource it changes) that there is work. Never fails the job: an
 * offline host gets it at its agent's next hello, a lost notice at the gateway's next rescan.
 */
export async function publishJob(db: Database, queue: QueuePort, log: Logger, row: Job): Promise<void> {
  const gatewayId = await gatewayOf(db, row.hostId).catch(() => null);
  if (gatewayId) await notifyGateway(queue, log, gatewayId, { type: "jobs", hostId: row.hostId });
  log.info("job queued", { jobId: row.id, hostId: row.hostId, kind: row.kind, gatewayId });
}

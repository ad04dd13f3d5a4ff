import type { Database } from "../../shared/db";
import { getHost, isOnline } from "../hosts/store";
import { finishJob, overdueJobs } from "../core/jobs/store";
import type { Logger } from "../../shared/logger";
import type { Metrics } from "../metrics/registry";

function minutes(ms: number) {
  const m = Math.round(ms / 60_000);
  return m < 1 ? `${Math.round(ms / 1000)} s` : `${m} min`;
}

/** A reason a person can read for a job that ran out of time. */
async function overdueReason(db: Database, hostId: string, heartbeatMs: number, now = Date.now()): Promise<string> {
  const host = await getHost(db, hostId);
  if (!host) return "its host was removed";
  if (!isOnline(host, heartbeatMs, now)) {
    const since = host.disconnectedAt ?? host.lastHeartbeatAt;
    return since
      ? `host ${host.name} offline for ${minutes(now - since.getTime())}`
      : `host ${host.name} has never connected (enroll its agent)`;
  }
  return `host ${host.name} did not finish the job before its deadline`;
}

export interface JobReaperOptions {
  db: Database;
  logger: Logger;
  heartbeatMs: number;
  intervalMs?: number;
  metrics?: Metrics;
}

/** Ends what would otherwise wait forever: open jobs past their deadline (their host never took them). */
export class JobReaper {
  private timer?: ReturnType<typeof setInterval>;
  private running = false;

  constructor(private readonly o: JobReaperOptions) {}

  start() {
    this.timer = setInterval(() => void this.sweep(), this.o.intervalMs ?? 5000);
    this.timer.unref?.();
  }

  async sweep(): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    let failed = 0;
    try {
      for (const job of await overdueJobs(this.o.db)) {
        const reason = await overdueReason(this.o.db, job.hostId, this.o.heartbeatMs);
        const done = await finishJob(this.o.db, job.id, { ok: false, error: { code: "deadline_passed", message: reason } });
        if (done) {
          failed++;
          this.o.metrics?.jobFinished(done);
          this.o.logger.warn("job failed at its deadline", { jobId: job.id, hostId: job.hostId, reason });
        }
      }
    } catch (err) {
      this.o.logger.error("deadline sweep failed", { err });
    } finally {
      this.running = false;
    }
    return failed;
  }

  stop() {
    clearInterval(this.timer);
  }
}

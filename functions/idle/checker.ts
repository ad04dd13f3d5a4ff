import type { Logger } from "../../shared/logger";
import { Periodic } from "../core/periodic";
import type { Services } from "../services";
import { runningInstances } from "./queries";
import { checkIntervalMs } from "./rules";
import { statusOf, stopIfIdle } from "./service";

export interface IdleCheckerOptions {
  services: Services;
  logger: Logger;
  /** How often running instances are looked at (default: checkIntervalMs of the configuration). */
  intervalMs?: number;
}

/**
 * The control plane's background idle auto-stop: each pass reads the running instances with what
 * their agents reported, and stops those past their idle time through the normal stop job. Several
 * control planes may run it: each stop happens under the instance's row lock, skipped by the others.
 */
export class IdleChecker extends Periodic {
  constructor(private readonly o: IdleCheckerOptions) {
    super({ what: "idle check", intervalMs: o.intervalMs ?? checkIntervalMs(o.services.config.idleStop), logger: o.logger });
  }

  /** Without a job queue nothing can be stopped: no passes. */
  override start() {
    if (this.o.services.queue !== undefined) super.start();
  }

  protected async work() {
    const { services: s, logger } = this.o;
    for (const c of await runningInstances(s.db)) {
      const status = statusOf(c, s.config.idleStop);
      if (!status.due) continue;
      const job = await stopIfIdle(s, c.instance.id).catch((err: unknown) => {
        logger.warn("idle stop of one instance failed", { instanceId: c.instance.id, err });
        return undefined;
      });
      if (job) logger.info("idle instance stopped", { jobId: job.id, instanceId: c.instance.id, userId: c.instance.userId, idleMinutes: status.minutes });
    }
  }
}

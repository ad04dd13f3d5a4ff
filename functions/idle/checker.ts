import type { Logger } from "../../shared/logger";
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
export class IdleChecker {
  private timer?: ReturnType<typeof setInterval>;
  private running?: Promise<void>;

  constructor(private readonly o: IdleCheckerOptions) {}

  start() {
    if (this.o.services.queue === undefined) return;
    this.timer = setInterval(() => void this.pass(), this.o.intervalMs ?? checkIntervalMs(this.o.services.config.idleStop));
    this.timer.unref?.();
  }

  /** One pass; a pass already running is waited for instead of started again. */
  pass(): Promise<void> {
    this.running ??= this.stopIdle()
      .catch((err: unknown) => this.o.logger.error("idle check failed", { err }))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async stopIdle() {
    const { services: s, logger } = this.o;
    const policy = s.config.idleStop;
    for (const c of await runningInstances(s.db)) {
      const status = statusOf(c, policy);
      if (!status.due) continue;
      const job = await stopIfIdle(s, c.instance.id).catch((err: unknown) => {
        logger.warn("idle stop of one instance failed", { instanceId: c.instance.id, err });
        return undefined;
      });
      if (job) logger.info("idle instance stopped", { jobId: job.id, instanceId: c.instance.id, userId: c.instance.userId, idleMinutes: status.minutes });
    }
  }

  async stop() {
    clearInterval(this.timer);
    await this.running;
  }
}

import type { Logger } from "../../shared/logger";

/**
 * A background pass of the control plane, every `intervalMs` once started: never two at once (a
 * pass asked for while one runs waits for that one), a failure logged as `what` failed, and stop()
 * waits for the one under way. Subclasses say what one pass does.
 */
export abstract class Periodic {
  private timer?: ReturnType<typeof setInterval>;
  private running?: Promise<void>;

  constructor(private readonly periodic: { what: string; intervalMs: number; logger: Logger }) {}

  protected abstract work(): Promise<void>;

  start() {
    this.timer = setInterval(() => void this.pass(), this.periodic.intervalMs);
    this.timer.unref?.();
  }

  /** One pass; a pass already running is waited for instead of started again. */
  pass(): Promise<void> {
    this.running ??= this.work()
      .catch((err: unknown) => this.periodic.logger.error(`${this.periodic.what} failed`, { err }))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  async stop() {
    clearInterval(this.timer);
    await this.running;
  }
}

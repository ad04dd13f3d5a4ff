import { agentErrorCodes, commandSchemas, isCommandKind } from "../shared/protocol/commands";
import type { CommandKind } from "../shared/protocol/commands";
import type { AgentMessageBody, Command } from "../shared/protocol/messages";
import type { Logger } from "../shared/logger";
import type { LxdClient } from "./lxd/client";
import { LxdError, LxdUnavailableError } from "./lxd/errors";
import { JobError } from "./handlers/handler";
import type { Handler, Handlers } from "./handlers/handler";
import type { Journal, ResultBody } from "./journal";
import { Semaphore } from "../shared/semaphore";

export type ProgressBody = Extract<AgentMessageBody, { type: "progress" }>;

/** LXD as the agent currently sees it: a client, or why there is none. */
export type LxdAccess = { client: LxdClient; version: string } | { client?: undefined; reason: string };

export interface ExecutorOptions {
  journal: Pick<Journal, "get" | "record">;
  handlers: Handlers;
  lxd: () => LxdAccess;
  /** Hands a message to the connection; a result sent while offline goes out again from the journal. */
  send: (message: ProgressBody | ResultBody) => void;
  logger: Logger;
  agentVersion?: string;
  concurrency?: number;
  drainTimeoutMs?: number;
  /** LXD went away under a running job: the caller re-checks it at once instead of at the next interval. */
  onLxdUnavailable?: (err: LxdUnavailableError) => void;
  now?: () => number;
}

/**
 * Runs gateway commands: validated, at most once per job id while running, answered from the
 * journal when redelivered after they finished, concurrent across instances and serial per instance.
 */
export class Executor {
  private readonly options: ExecutorOptions;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly slots: Semaphore;
  private readonly running = new Map<string, Promise<void>>();
  private readonly instanceTails = new Map<string, Promise<void>>();
  private readonly abandon = new AbortController();
  private accepting = false;

  constructor(options: ExecutorOptions) {
    this.options = options;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.slots = new Semaphore(options.concurrency ?? 16);
  }

  start(): void {
    this.accepting = true;
  }

  /**
   * Stops taking commands and waits for running ones up to the bound; the rest are abandoned.
   * Commands refused or abandoned here get no result: the gateway stores any result as final,
   * while an unanswered command returns to the host's queue when the socket closes.
   */
  async stop(): Promise<{ abandoned: string[] }> {
    this.accepting = false;
    const pending = [...this.running.values()];
    if (pending.length === 0) return { abandoned: [] };
    const bound = this.options.drainTimeoutMs ?? 20_000;
    this.logger.info("executor draining", { jobs: pending.length, boundMs: bound });
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      Promise.allSettled(pending).then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), bound))),
    ]);
    clearTimeout(timer);
    if (finished) return { abandoned: [] };
    const abandoned = [...this.running.keys()];
    // Unreported, they stay unacked at the gateway and are redelivered: every command is idempotent.
    this.abandon.abort();
    this.logger.warn("executor abandoned running jobs at shutdown", { jobIds: abandoned, boundMs: bound });
    return { abandoned };
  }

  submit(command: Command): void {
    const log = this.logger.child({ jobId: command.jobId, kind: command.kind, attempt: command.attempt });
    if (this.running.has(command.jobId)) {
      log.info("job is already running: duplicate delivery ignored");
      return;
    }
    const known = this.options.journal.get(command.jobId);
    if (known) {
      log.info("job already finished: resending its result");
      this.options.send(known.result);
      return;
    }
    if (!this.accepting) {
      log.info("shutting down: command left unanswered for redelivery");
      return;
    }
    const job = this.execute(command, log)
      .catch((err: unknown) => log.error("job ended with an unexpected error; a redelivery will run it again", { err }))
      .finally(() => this.running.delete(command.jobId));
    this.running.set(command.jobId, job);
  }

  private async execute(command: Command, log: Logger): Promise<void> {
    const started = this.now();
    log.info("job received");
    const result = await this.outcome(command, log);
    if (!result || this.abandon.signal.aborted) {
      log.info(result ? "abandoned at shutdown: left for redelivery" : "shutting down: not started, left for redelivery");
      return;
    }
    try {
      await this.options.journal.record(result);
    } catch (err) {
      log.error("journal write failed: the result is sent but a redelivery would run the job again", { err });
    }
    log.info("job finished", {
      ok: result.ok,
      ms: this.now() - started,
      ...(result.ok ? {} : { code: result.error.code, error: result.error.message }),
    });
    this.options.send(result);
  }

  private async outcome(command: Command, log: Logger): Promise<ResultBody | undefined> {
    const { jobId, kind } = command;
    if (!isCommandKind(kind)) {
      const version = this.options.agentVersion ? ` (version ${this.options.agentVersion})` : "";
      return failure(jobId, agentErrorCodes.unknownCommand, `this agent${version} does not know the command "${kind}"`);
    }
    const parsed = commandSchemas[kind].payload.safeParse(command.payload);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "payload"}: ${i.message}`).join("; ");
      return failure(jobId, agentErrorCodes.invalidPayload, `invalid ${kind} payload: ${issues}`);
    }
    const instance = (parsed.data as { name?: unknown }).name;
    return this.serialized(typeof instance === "string" ? instance : undefined, () =>
      this.slots.use(() => this.run(kind, command, parsed.data, log)),
    );
  }

  private async run<K extends CommandKind>(kind: K, command: Command, payload: unknown, log: Logger): Promise<ResultBody | undefined> {
    const { jobId } = command;
    if (!this.accepting) return undefined;
    if (this.now() > Date.parse(command.deadline)) {
      return failure(jobId, agentErrorCodes.deadline, `the deadline ${command.deadline} passed before the job could start`);
    }
    const handler = this.options.handlers[kind] as Handler<K>;
    const base = {
      jobId,
      payload: payload as Parameters<Handler<K>["run"]>[0]["payload"],
      signal: this.abandon.signal,
      logger: log,
      progress: (step: string, message: string) =>
        this.options.send({ type: "progress", jobId, step: step.slice(0, 100), message: message.slice(0, 2000) }),
    };
    try {
      let data: unknown;
      if (handler.lxd === "none") {
        data = await handler.run({ ...base, lxd: undefined });
      } else {
        const access = this.options.lxd();
        if (handler.lxd === "optional") {
          data = await handler.run({ ...base, lxd: access.client });
        } else if (access.client) {
          data = await handler.run({ ...base, lxd: access.client });
        } else {
          return failure(jobId, agentErrorCodes.lxdUnavailable, access.reason);
        }
      }
      return { type: "result", jobId, ok: true, data };
    } catch (err) {
      return this.describe(jobId, err, log);
    }
  }

  private describe(jobId: string, err: unknown, log: Logger): ResultBody {
    if (err instanceof LxdError) return failure(jobId, agentErrorCodes.lxd, `LXD: ${err.lxdMessage}`);
    if (err instanceof LxdUnavailableError) {
      this.options.onLxdUnavailable?.(err);
      return failure(jobId, agentErrorCodes.lxdUnavailable, err.message);
    }
    if (err instanceof JobError) return failure(jobId, err.code, err.message);
    log.warn("job failed with an unexpected error", { err });
    return failure(jobId, agentErrorCodes.internal, err instanceof Error ? err.message : String(err));
  }

  /** Runs jobs that name the same instance one after another, in arrival order. */
  private async serialized<T>(instance: string | undefined, fn: () => Promise<T>): Promise<T> {
    if (instance === undefined) return fn();
    const previous = this.instanceTails.get(instance) ?? Promise.resolve();
    let release = () => {};
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.instanceTails.set(instance, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.instanceTails.get(instance) === tail) this.instanceTails.delete(instance);
    }
  }
}

function failure(jobId: string, code: string, message: string): ResultBody {
  return { type: "result", jobId, ok: false, error: { code, message: message.slice(0, 4000) } };
}

import { open, readFile } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { JobErrorSchema } from "../shared/protocol/messages";
import type { AgentMessageBody } from "../shared/protocol/messages";
import type { Logger } from "../shared/logger";
import { syncDirectory, writeFileAtomic } from "./state";

export type ResultBody = Extract<AgentMessageBody, { type: "result" }>;

const ResultBodySchema = z.discriminatedUnion("ok", [
  z.object({ type: z.literal("result"), jobId: z.string().min(1), ok: z.literal(true), data: z.unknown() }),
  z.object({ type: z.literal("result"), jobId: z.string().min(1), ok: z.literal(false), error: JobErrorSchema }),
]);

const LineSchema = z.discriminatedUnion("t", [
  z.object({ t: z.literal("result"), at: z.string(), result: ResultBodySchema, acked: z.boolean().optional() }),
  z.object({ t: z.literal("ack"), jobId: z.string().min(1) }),
]);
type Line = z.infer<typeof LineSchema>;

export interface JournalEntry {
  result: ResultBody;
  at: string;
  acked: boolean;
}

export interface JournalOptions {
  path: string;
  logger: Logger;
  /** How many finished jobs to remember; unacknowledged ones are kept beyond this. */
  keep?: number;
}

/**
 * The jobs this host has finished, so a redelivered command is answered instead of redone,
 * and results the gateway has not acknowledged are resent after a reconnect.
 * An append-only JSON-lines file: a result is on disk (fsynced) before it is sent.
 */
export class Journal {
  private readonly path: string;
  private readonly logger: Logger;
  private readonly keep: number;
  private readonly entries = new Map<string, JournalEntry>();
  private file: FileHandle | undefined;
  private lines = 0;
  private tail: Promise<void> = Promise.resolve();

  constructor(options: JournalOptions) {
    this.path = options.path;
    this.logger = options.logger;
    this.keep = options.keep ?? 5000;
  }

  async start(): Promise<void> {
    await this.replay();
    await this.compact();
  }

  async stop(): Promise<void> {
    await this.tail;
    await this.file?.close();
    this.file = undefined;
  }

  get(jobId: string): JournalEntry | undefined {
    return this.entries.get(jobId);
  }

  /** Resolves once the result is durable; only then may it be sent (or listed by unacked()). */
  async record(result: ResultBody): Promise<void> {
    const entry: JournalEntry = { result, at: new Date().toISOString(), acked: false };
    await this.append({ t: "result", at: entry.at, result }, true);
    this.entries.delete(result.jobId);
    this.entries.set(result.jobId, entry);
  }

  /** Losing an ack in a crash only causes one harmless resend, so it is not fsynced. */
  markAcked(jobId: string): Promise<void> {
    const entry = this.entries.get(jobId);
    if (!entry || entry.acked) return Promise.resolve();
    entry.acked = true;
    return this.append({ t: "ack", jobId }, false);
  }

  /** Finished results the gateway has not confirmed, oldest first. */
  unacked(): ResultBody[] {
    return [...this.entries.values()].filter((e) => !e.acked).map((e) => e.result);
  }

  private append(line: Line, durable: boolean): Promise<void> {
    const write = async () => {
      if (this.lines >= this.keep * 2) await this.compact();
      const file = this.file;
      if (!file) throw new Error(`journal ${this.path} is not open`);
      await file.write(`${JSON.stringify(line)}\n`);
      if (durable) await file.datasync();
      this.lines += 1;
    };
    const done = this.tail.then(write);
    this.tail = done.catch(() => undefined);
    return done;
  }

  private async replay(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    const raw = text.split("\n");
    // A crash mid-append leaves a last line without its newline: that result was never sent.
    const torn = raw.at(-1) !== "" ? raw.length - 1 : -1;
    let skipped = 0;
    raw.forEach((text, index) => {
      if (text === "") return;
      const line = parseLine(text);
      if (!line) {
        if (index !== torn) skipped += 1;
        else this.logger.warn("journal: ignoring a torn last line (the agent stopped mid-write)", { path: this.path });
        return;
      }
      if (line.t === "ack") {
        const entry = this.entries.get(line.jobId);
        if (entry) entry.acked = true;
        return;
      }
      this.entries.delete(line.result.jobId);
      this.entries.set(line.result.jobId, { result: line.result as ResultBody, at: line.at, acked: line.acked ?? false });
    });
    if (skipped > 0) this.logger.warn("journal: skipped unreadable lines", { path: this.path, skipped });
  }

  /** Rewrites the file with the remembered jobs only, then reopens it for appending. */
  private async compact(): Promise<void> {
    const all = [...this.entries.entries()];
    const dropFrom = all.length - this.keep;
    all.forEach(([jobId, entry], index) => {
      if (index < dropFrom && entry.acked) this.entries.delete(jobId);
    });
    const content = [...this.entries.values()]
      .map((e) => `${JSON.stringify({ t: "result", at: e.at, result: e.result, ...(e.acked ? { acked: true } : {}) })}\n`)
      .join("");
    await this.file?.close();
    this.file = undefined;
    await writeFileAtomic(this.path, content, 0o600);
    this.file = await open(this.path, "a", 0o600);
    await syncDirectory(dirname(this.path));
    this.lines = this.entries.size;
  }
}

function parseLine(text: string): Line | undefined {
  try {
    const parsed = LineSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

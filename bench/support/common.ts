/** Small helpers shared by the benches (statistics, /proc CPU counters, keep-alive HTTP, a child process). */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import { Redis } from "ioredis";

export function envInt(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export const round = (x: number, digits = 2) => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

export const p50 = (s: readonly number[]) => round(percentile(s, 50));
export const p99 = (s: readonly number[]) => round(percentile(s, 99));

export async function time(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

/** `n` sequential timings of `f`, in ms. */
export async function sample(n: number, f: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await time(() => f(i)));
  return out;
}

/**
 * Closed-loop load: `concurrency` workers, each calling `f(i)` again as soon as its last call ended,
 * until `limit` calls were started or `seconds` passed. Answers the results in the order they ended.
 */
export async function closedLoop<T>(concurrency: number, limit: number, seconds: number, f: (i: number) => Promise<T>): Promise<{ results: T[]; elapsedS: number }> {
  const results: T[] = [];
  let issued = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (issued < limit && performance.now() < deadline) results.push(await f(issued++));
    }),
  );
  return { results, elapsedS: (performance.now() - started) / 1000 };
}

export const progress = (bench: string) => (msg: string) => process.stderr.write(`[bench ${bench}] ${msg}\n`);

/** Wall-clock microseconds with sub-millisecond resolution (comparable with PostgreSQL's clock on this machine). */
export const wallUs = () => (performance.timeOrigin + performance.now()) * 1000;

// ---------------------------------------------------------------- /proc CPU counters (Linux)

const TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used, or undefined when it is gone. */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return undefined;
  }
}

/** Pids whose command name (comm) is `name`. */
export function pidsNamed(name: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === name) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export function sumCpuSeconds(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (processCpuSeconds(pid) ?? 0), 0);
}

/** Machine-wide busy and total CPU seconds (all cores) from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / TICKS, total: total / TICKS };
}

export function rssBytes(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)\s+kB/);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- keep-alive HTTP

export interface HttpResult {
  status: number;
  text: string;
  headers: http.IncomingHttpHeaders;
}

/** A keep-alive HTTP client for one base URL (cheaper per request than fetch). */
export class HttpClient {
  private readonly agent: http.Agent;
  private readonly base: URL;

  /** `localAddress`: the source address of its connections (any 127.x.y.z on loopback), to act as another client. */
  constructor(base: string, maxSockets = 128, localAddress?: string) {
    this.base = new URL(base);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, localAddress });
  }

  request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: this.base.hostname,
          port: this.base.port,
          method,
          path,
          agent: this.agent,
          headers: {
            ...headers,
            ...(payload ? { "content-type": "application/json", "content-length": String(payload.length) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), headers: res.headers }));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  close() {
    this.agent.destroy();
  }
}

// ---------------------------------------------------------------- a child process with JSON log lines

/**
 * A child process whose stdout/stderr lines are kept (JSON ones parsed) and can be waited for.
 * Unlike test/support/processes.ts `Program`, the command is free (e.g. bash raising `ulimit -n`).
 */
export class Child {
  readonly lines: Record<string, any>[] = [];
  readonly text: string[] = [];
  private readonly child: ChildProcess;
  private waiters: (() => void)[] = [];
  exited?: { code: number | null; signal: NodeJS.Signals | null };

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    env: Record<string, string>,
    private readonly echo = false,
  ) {
    this.child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let partial = "";
    const onData = (chunk: Buffer) => {
      const parts = (partial + chunk.toString()).split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) {
        if (!line.trim()) continue;
        if (this.text.length < 10_000) this.text.push(line);
        if (this.echo) process.stderr.write(`[${this.name}] ${line}\n`);
        try {
          if (this.lines.length < 10_000) this.lines.push(JSON.parse(line));
        } catch {
          // not JSON
        }
      }
      this.wake();
    };
    this.child.stdout!.on("data", onData);
    this.child.stderr!.on("data", onData);
    this.child.on("exit", (code, signal) => {
      this.exited = { code, signal };
      this.wake();
    });
  }

  get pid() {
    return this.child.pid;
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  private nextEvent(ms: number) {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  async waitFor(match: (line: Record<string, any>) => boolean, timeoutMs = 30_000): Promise<Record<string, any>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(match);
      if (found) return found;
      if (this.exited) throw new Error(`${this.name} exited (${JSON.stringify(this.exited)}); last output:\n${this.text.slice(-15).join("\n")}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no matching line within ${timeoutMs} ms; last output:\n${this.text.slice(-15).join("\n")}`);
      await this.nextEvent(Math.min(left, 200));
    }
  }

  /** Signals and waits; SIGKILL after timeoutMs. */
  async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 20_000): Promise<void> {
    if (this.exited) return;
    this.child.kill(signal);
    const deadline = Date.now() + timeoutMs;
    while (!this.exited) {
      if (Date.now() > deadline) {
        this.child.kill("SIGKILL");
        await this.nextEvent(1000);
        return;
      }
      await this.nextEvent(100);
    }
  }
}

/** Polls `check` until it holds; fails early, with the child's last output, when the child exits. */
export async function until(check: () => Promise<boolean>, timeoutMs: number, what: string, child?: Child) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // Not up yet: keep polling until the deadline.
    }
    if (child?.exited) throw new Error(`${child.name} exited (${JSON.stringify(child.exited)}) while waiting for ${what}:\n${child.text.slice(-15).join("\n")}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${child ? `; ${child.name} said:\n${child.text.slice(-15).join("\n")}` : ""}`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------- cleanups that also run on an interrupt

/**
 * Undo steps, run in reverse order once: at the end of a bench, or when it is interrupted
 * (SIGINT, SIGTERM, SIGHUP) — leftover quorum queues hold broker file handles, so they must not
 * outlive an interrupted run. A closed stderr (e.g. `| head`) must not kill the bench mid-way either.
 */
export class Cleanups {
  private readonly steps: { what: string; f: () => Promise<unknown> }[] = [];
  private running?: Promise<void>;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.log(`${signal}: cleaning up before exiting`);
    void this.run().finally(() => process.exit(130));
  };

  constructor(private readonly log: (msg: string) => void) {
    process.stderr.on("error", () => {});
    for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(s, this.onSignal);
  }

  add(what: string, f: () => Promise<unknown>) {
    this.steps.push({ what, f });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.removeListener(s, this.onSignal);
      for (const { what, f } of this.steps.reverse()) {
        await f().catch((err: unknown) => this.log(`cleanup (${what}) failed: ${err instanceof Error ? err.message : String(err)}`));
      }
    })();
    return this.running;
  }
}

// ---------------------------------------------------------------- the shape of a bench

export interface BenchPhases<S, M> {
  /** Makes what is measured (databases, processes, accounts); each undo step goes on `cleanups`. */
  setup(cleanups: Cleanups): Promise<S>;
  /** Takes the figures: only what is timed, and what it needs to be read (CPU counters, rows). */
  measure(setup: S, cleanups: Cleanups): Promise<M>;
  /** The result line's fields, from the figures alone (no more measuring). */
  report(figures: M, setup: S): Record<string, unknown>;
}

/**
 * A bench's `run()`: setup → measure → report, then the cleanups (also on a failure or an interrupt).
 * `progress` is the bench's stderr logger (for the cleanups' failures).
 */
export async function runBench<S, M>(progress: (msg: string) => void, phases: BenchPhases<S, M>): Promise<Record<string, unknown>> {
  const cleanups = new Cleanups(progress);
  try {
    const setup = await phases.setup(cleanups);
    return phases.report(await phases.measure(setup, cleanups), setup);
  } finally {
    await cleanups.run();
  }
}

/** Ends this process when its parent is gone (a bench killed with SIGKILL must not leave its children running). */
export function exitWithParent(onOrphaned: () => void | Promise<void>, everyMs = 1000) {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      void Promise.resolve(onOrphaned()).finally(() => process.exit(1));
    }
  }, everyMs);
  timer.unref();
}

// ---------------------------------------------------------------- the broker's file handles

/**
 * RabbitMQ's file_handle_cache counters (limit ≈ 90% of the broker's `ulimit -n`), read with
 * `rabbitmqctl eval` when the broker is on this machine; undefined otherwise. Every quorum queue
 * holds 3 of these handles; when they run out the broker stops accepting connections.
 * BENCH_RABBITMQCTL=0 skips it.
 */
export function brokerFileHandles(amqpUrl: string): { limit: number; used: number } | undefined {
  if (process.env.BENCH_RABBITMQCTL === "0") return undefined;
  const host = new URL(amqpUrl).hostname;
  if (host !== "127.0.0.1" && host !== "localhost" && host !== "[::1]") return undefined;
  try {
    const out = execFileSync("rabbitmqctl", ["eval", "file_handle_cache:info([total_limit, total_used])."], {
      encoding: "utf8",
      timeout: 30_000,
      stdio: ["ignore", "pipe", "ignore"],
    });
    const m = out.match(/total_limit,(\d+)\}.*total_used,(\d+)\}/s);
    return m ? { limit: Number(m[1]), used: Number(m[2]) } : undefined;
  } catch {
    return undefined;
  }
}

/** Deletes the keys under `prefix` in the Redis at `redisUrl` (a bench's own, by its prefix); answers how many. */
export async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let cursor = "0";
    let deleted = 0;
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== "0");
    return deleted;
  } finally {
    redis.disconnect();
  }
}

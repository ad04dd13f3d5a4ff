import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";

/**
 * A KWS program (control plane, agent) as a real child process, so tests can SIGKILL and restart
 * it. Its JSON log lines are kept and can be waited for.
 */
export class Program {
  readonly lines: Record<string, any>[] = [];
  readonly text: string[] = [];
  private child?: ChildProcess;
  private waiters: (() => void)[] = [];
  exited?: { code: number | null; signal: NodeJS.Signals | null };

  constructor(
    readonly name: string,
    private readonly entry: string,
    private readonly args: string[],
    readonly env: Record<string, string>,
    /** A network namespace to run in (`ip netns exec` execs the program itself, so signals reach it). */
    private readonly netns?: string,
  ) {}

  start(extraArgs: string[] = []): this {
    this.exited = undefined;
    const argv = [process.execPath, "--import", "tsx", this.entry, ...this.args, ...extraArgs];
    const [command, ...args] = this.netns ? ["ip", "netns", "exec", this.netns, ...argv] : argv;
    const child = spawn(command!, args, {
      env: { ...process.env, ...this.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) {
        if (!line.trim()) continue;
        this.text.push(line);
        if (process.env.KWS_TEST_LOG) console.log(`[${this.name}] ${line}`);
        try {
          this.lines.push(JSON.parse(line));
        } catch {
          // Not every line is JSON (e.g. a CLI message on stderr); it stays in `text`.
        }
      }
      this.wake();
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code, signal) => {
      this.exited = { code, signal };
      this.wake();
    });
    return this;
  }

  get pid() {
    return this.child?.pid;
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The first log line from index `from` that matches, waiting up to `timeoutMs`. */
  async waitFor(match: (line: Record<string, any>) => boolean, timeoutMs = 20_000, from = 0): Promise<Record<string, any>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.slice(from).find(match);
      if (found) return found;
      if (this.exited) throw new Error(`${this.name} exited (${JSON.stringify(this.exited)}); last output:\n${this.text.slice(-15).join("\n")}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no matching log line within ${timeoutMs} ms; last output:\n${this.text.slice(-15).join("\n")}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 30_000): Promise<void> {
    const child = this.child;
    if (!child || this.exited) return;
    child.kill(signal);
    const deadline = Date.now() + timeoutMs;
    while (!this.exited) {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`${this.name} did not exit within ${timeoutMs} ms of ${signal}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

/** `npm start` with its embedded defaults: whatever the suite's environment points at is switched off. */
const EMBEDDED_SERVICES = {
  DATABASE_URL: "",
  REDIS_URL: "",
  UPSTASH_REDIS_REST_URL: "",
  UPSTASH_REDIS_REST_TOKEN: "",
  AMQP_URL: "",
  SMTP_URL: "",
} as const;

/**
 * `npm start` (main/embedded.ts) on its embedded defaults and a free port, its state in `dataDir`,
 * with `env` on top; not started yet.
 */
export async function embeddedKws(dataDir: string, env: Record<string, string> = {}): Promise<{ kws: Program; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  return { kws: new Program("kws", "main/embedded.ts", [], { NODE_ENV: "test", PORT: String(port), PUBLIC_URL: url, KWS_DATA_DIR: dataDir, ...EMBEDDED_SERVICES, ...env }), url };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

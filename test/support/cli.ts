import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../bin/kws.mjs", import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The real `kws` (bin/kws.mjs) as a child process, with its config in `configDir` and no terminal:
 * what a script calling it sees. `KWS_URL`/`KWS_TOKEN` of the test's own environment are dropped.
 */
export class Cli {
  constructor(
    readonly configDir: string,
    private readonly env: Record<string, string> = {},
  ) {}

  start(args: string[]): CliProcess {
    const { KWS_URL: _url, KWS_TOKEN: _token, ...inherited } = process.env;
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...inherited, KWS_CONFIG_DIR: this.configDir, ...this.env }, stdio: ["pipe", "pipe", "pipe"] });
    return new CliProcess(child);
  }

  /** Runs `kws args` to its end, `stdin` piped in (then closed). */
  run(args: string[], stdin = ""): Promise<CliRun> {
    const p = this.start(args);
    p.child.stdin!.end(stdin);
    return p.done;
  }

  /** Runs `kws args --json`: its exit code and stdout parsed (stderr's JSON error on failure). */
  async json<T = any>(args: string[], stdin = ""): Promise<{ code: number | null; body: T; stderr: string }> {
    const r = await this.run([...args, "--json"], stdin);
    const text = r.code === 0 ? r.stdout : r.stderr;
    try {
      return { code: r.code, body: JSON.parse(text) as T, stderr: r.stderr };
    } catch {
      throw new Error(`kws ${args.join(" ")} --json: not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
    }
  }
}

export class CliProcess {
  stdout = "";
  stderr = "";
  readonly done: Promise<CliRun>;
  private waiters: (() => void)[] = [];

  constructor(readonly child: ChildProcess) {
    const wake = () => this.waiters.splice(0).forEach((w) => w());
    child.stdout!.on("data", (d: Buffer) => ((this.stdout += d.toString()), wake()));
    child.stderr!.on("data", (d: Buffer) => ((this.stderr += d.toString()), wake()));
    this.done = new Promise((resolve) => child.on("close", (code) => (wake(), resolve({ code, stdout: this.stdout, stderr: this.stderr }))));
  }

  /** The first match of `pattern` in stdout, waiting up to `timeoutMs`. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.stdout.match(pattern);
      if (m) return m;
      if (this.child.exitCode !== null || Date.now() > deadline) throw new Error(`no ${pattern} in kws's output:\n${this.stdout}\n${this.stderr}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.waiters.push(() => (clearTimeout(t), r()));
      });
    }
  }
}

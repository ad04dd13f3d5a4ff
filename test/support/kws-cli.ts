import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Program } from "./processes";

const ENTRY = "cli/main.ts";

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `kws ARGS` as a subprocess (node with tsx's loader, as bin/kws.mjs runs it), `stdin` written to it; its exit and output. */
export function runKws(args: string[], env: Record<string, string>, o: { stdin?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", ENTRY, ...args], { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c));
    child.stderr.on("data", (c: Buffer) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`kws ${args.join(" ")} did not end within ${o.timeoutMs ?? 120_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, o.timeoutMs ?? 120_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(o.stdin ?? "");
  });
}

/** A long-running `kws ARGS` (e.g. a tunnel) whose output lines can be waited for. */
export function kwsProgram(args: string[], env: Record<string, string>): Program {
  return new Program("kws", ENTRY, args, env);
}

/**
 * The environment of a CLI signed in to `url` with `token` through `kws login --token`, its config
 * (and HOME, for ~/.ssh) in a temporary folder of its own.
 */
export async function signedInCli(url: string, token: string): Promise<Record<string, string>> {
  const home = mkdtempSync(join(tmpdir(), "kws-cli-"));
  const env = { HOME: home, KWS_CONFIG_DIR: join(home, ".config", "kws"), KWS_URL: "", KWS_TOKEN: "" };
  const login = await runKws(["login", url, "--token"], env, { stdin: `${token}\n` });
  if (login.code !== 0) throw new Error(`kws login: ${login.code} ${login.stderr}`);
  return env;
}

/** Until `program` printed a line matching `pattern` (from line `from`): the match. */
export async function waitForOutput(program: Program, pattern: RegExp, timeoutMs = 30_000, from = 0): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const line of program.text.slice(from)) {
      const m = line.match(pattern);
      if (m) return m;
    }
    if (program.exited) throw new Error(`kws exited (${JSON.stringify(program.exited)}):\n${program.text.join("\n")}`);
    if (Date.now() > deadline) throw new Error(`no output matching ${pattern} within ${timeoutMs} ms:\n${program.text.join("\n")}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

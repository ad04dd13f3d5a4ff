/**
 * Runs every test file under test/ with Node's own test runner (tsx as the loader).
 * Node 20's --test does not expand globs, so the files are listed here.
 * Extra arguments narrow the run: `npm test -- auth` runs files whose path contains "auth".
 *
 * One configuration: every test runs against the machine's real services, which
 * scripts/test-setup.sh starts: PostgreSQL (DATABASE_URL), Redis through an Upstash-compatible
 * bridge started here (UPSTASH_REDIS_REST_URL/TOKEN), RabbitMQ (AMQP_URL) and, in each test, a
 * real SMTP server. `npm start`'s embedded defaults (PGlite, in-process KV and queue, mail to the
 * log) are one end-to-end test of their own (test/embedded/defaults.test.ts).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { connect } from "node:net";
import { join, relative } from "node:path";
import { startUpstashBridge } from "./upstash-bridge/server";

function find(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return find(path);
    return name.endsWith(".test.ts") || name.endsWith(".test.tsx") ? [path] : [];
  });
}

// A hung test fails after this instead of holding CI until its limit; the slowest real one (an
// instance deploy with the Debian image) takes about 3 minutes.
const TEST_TIMEOUT_MS = 10 * 60_000;

/** Whether something accepts TCP connections at the host and port of `url` (within 2 s). */
function reachable(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname || "127.0.0.1", port: Number(port) || defaultPort, timeout: 2000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true)).once("error", () => done(false)).once("timeout", () => done(false));
  });
}

async function main() {
  const filters = process.argv.slice(2);
  const root = new URL(".", import.meta.url).pathname;
  const files = find(root)
    .map((f) => relative(process.cwd(), f))
    .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
    .sort();
  if (files.length === 0) {
    console.error(`no test files match ${filters.join(" ")}`);
    process.exit(1);
  }

  const env = { ...process.env };
  env.DATABASE_URL ||= "postgres://root@127.0.0.1:5432/postgres";
  env.AMQP_URL ||= "amqp://guest:guest@127.0.0.1:5672";
  // Not passed on as REDIS_URL: the control planes that tests start would take it as their KV.
  const redisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";
  const services = [
    ["PostgreSQL (DATABASE_URL)", env.DATABASE_URL, 5432],
    ["Redis (REDIS_URL)", redisUrl, 6379],
    ["RabbitMQ (AMQP_URL)", env.AMQP_URL, 5672],
  ] as const;
  const down = [];
  for (const [name, url, port] of services) if (!(await reachable(url, port))) down.push(name);
  if (down.length > 0) {
    console.error(`not reachable: ${down.join(", ")}; scripts/test-setup.sh starts them`);
    process.exit(1);
  }
  const token = randomBytes(24).toString("base64url");
  const bridge = await startUpstashBridge({ redisUrl, token });
  env.UPSTASH_REDIS_REST_URL = bridge.url;
  env.UPSTASH_REDIS_REST_TOKEN = token;
  console.log(`services: PostgreSQL ${env.DATABASE_URL}, Redis via bridge ${bridge.url}, RabbitMQ ${env.AMQP_URL}, SMTP server per test`);

  const started = Date.now();
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--test", "--test-concurrency=2", `--test-timeout=${TEST_TIMEOUT_MS}`, "--test-reporter=spec", "--test-reporter-destination=stdout",
      "--test-reporter=./test/slowest-files.mjs", "--test-reporter-destination=stdout", ...files],
    { stdio: "inherit", env },
  );
  const code = await new Promise<number>((resolve) => child.on("exit", (c) => resolve(c ?? 1)));
  await bridge.close();
  console.log(`test files: ${files.length}, wall time: ${Math.round((Date.now() - started) / 1000)} s`);
  process.exit(code);
}

void main();

/**
 * Runs every test file under test/ with Node's own test runner (tsx as the loader).
 * Node 20's --test does not expand globs, so the files are listed here.
 * Extra arguments narrow the run: `npm test -- auth` runs files whose path contains "auth".
 *
 * KWS_TEST_SERVICES=real (what .ci/run sets) points the whole suite at the machine's real
 * services instead of the embedded defaults: PostgreSQL (DATABASE_URL), Redis through an
 * Upstash-compatible bridge started here (UPSTASH_REDIS_REST_URL/TOKEN) and mail over SMTP
 * to a real SMTP server in each test (KWS_TEST_MAIL=smtp).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
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
  let bridge: Awaited<ReturnType<typeof startUpstashBridge>> | undefined;
  if (process.env.KWS_TEST_SERVICES === "real") {
    const token = randomBytes(24).toString("base64url");
    bridge = await startUpstashBridge({ redisUrl: process.env.REDIS_URL || "redis://127.0.0.1:6379", token });
    env.DATABASE_URL ||= "postgres://root@127.0.0.1:5432/postgres";
    env.UPSTASH_REDIS_REST_URL = bridge.url;
    env.UPSTASH_REDIS_REST_TOKEN = token;
    env.KWS_TEST_MAIL = "smtp";
    env.AMQP_URL ||= "amqp://guest:guest@127.0.0.1:5672";
    console.log(`real services: PostgreSQL ${env.DATABASE_URL}, Redis via bridge ${bridge.url}, SMTP sink per test, RabbitMQ ${env.AMQP_URL}`);
  }

  const started = Date.now();
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--test", "--test-concurrency=2", `--test-timeout=${TEST_TIMEOUT_MS}`, "--test-reporter=spec", ...files],
    { stdio: "inherit", env },
  );
  const code = await new Promise<number>((resolve) => child.on("exit", (c) => resolve(c ?? 1)));
  await bridge?.close();
  console.log(`test files: ${files.length}, wall time: ${Math.round((Date.now() - started) / 1000)} s`);
  process.exit(code);
}

void main();

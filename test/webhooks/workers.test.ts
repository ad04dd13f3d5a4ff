/**
 * The delivery worker as separate processes (`npm run webhooks`'s entry) sharing one database:
 * SIGKILLed in the middle of a request, its attempt is made again by another worker once the lease
 * runs out, with the same webhook-id; two workers at once never send one delivery twice.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { randomSecretKey } from "../../shared/crypto/secret-box";
import { recordEvent } from "../../functions/webhooks/outbox";
import { bodyAt, type ApiMethod } from "../support/api";
import { signedInUser, startHarness, type Harness } from "../support/harness";
import { Program } from "../support/processes";
import { verified, WebhookReceiver } from "../support/webhook-receiver";

const TIMEOUT_MS = 2000;
const secretKey = randomSecretKey();
const dir = mkdtempSync(join(tmpdir(), "kws-webhooks-"));
let h: Harness;
let receiver: WebhookReceiver;
const workers: Program[] = [];

before(async () => {
  h = await startHarness({ env: { KWS_SECRET_KEY: secretKey, KWS_WEBHOOK_ALLOW_PRIVATE: "true", KWS_WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS) } });
  receiver = await WebhookReceiver.start();
});
after(async () => {
  for (const w of workers) await w.stop("SIGTERM").catch(() => w.stop("SIGKILL"));
  await receiver?.close();
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function startWorker(): Promise<Program> {
  const worker = new Program(`webhooks-${workers.length}`, "functions/webhooks/main.ts", [], {
    NODE_ENV: "test",
    DATABASE_URL: h.databaseUrl!,
    KWS_SECRET_KEY: secretKey,
    KWS_WEBHOOK_ALLOW_PRIVATE: "true",
    KWS_WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
    KWS_DATA_DIR: join(dir, String(workers.length)),
    AMQP_URL: "",
    REDIS_URL: "",
    UPSTASH_REDIS_REST_URL: "",
    UPSTASH_REDIS_REST_TOKEN: "",
    SMTP_URL: "",
    LOG_LEVEL: "debug",
  });
  workers.push(worker);
  worker.start();
  await worker.waitFor((l) => l.msg === "webhook worker started", 30_000);
  return worker;
}

let paths = 0;
async function person() {
  const { cookie, userId } = await signedInUser(h);
  const call = <M extends ApiMethod, P extends string>(method: M, path: P, body?: unknown) => h.api(method, `/api/v1${path}`, { body, headers: { cookie } });
  const endpoint = async () => {
    const path = `/w${paths++}`;
    return { ...bodyAt(await call("POST", "/webhooks", { url: `${receiver.url}${path}`, events: ["job.failed"] }), 201), path };
  };
  return { userId, call, endpoint };
}

test("a worker SIGKILLed mid-request: another makes the attempt again after the lease, with the same webhook-id", async () => {
  const ada = await person();
  const { webhook, secret, path } = await ada.endpoint();
  const first = await startWorker();
  let killedAt = 0;
  receiver.answer = (r, i) => {
    if (r.path !== path || receiver.received.filter((x) => x.path === path).length > 1) return { status: 200 };
    killedAt = Date.now();
    void first.stop("SIGKILL");
    return "hang";
  };
  await h.services.db.transaction((tx) => recordEvent(tx, ada.userId, "job.failed", { id: "survives" }));
  await receiver.waitFor(1, 20_000, path);
  await startWorker();
  const [killed, redone] = await receiver.waitFor(2, 30_000, path);
  receiver.answer = () => ({ status: 200 });
  assert.equal(first.exited?.signal, "SIGKILL");
  assert.equal(redone!.headers["webhook-id"], killed!.headers["webhook-id"]);
  assert.equal(verified(secret, redone!).data.id, "survives");
  // Not before the lease (the timeout plus 5 s) ran out.
  assert.ok(redone!.at - killedAt >= TIMEOUT_MS + 4000, `redone after ${redone!.at - killedAt} ms`);
  const log = bodyAt(await ada.call("GET", `/webhooks/${webhook.id}/deliveries`), 200).attempts;
  assert.deepEqual(log.map((a) => [a.attempt, a.statusCode, a.deliveryState]), [[1, 200, "succeeded"]]);
});

test("two workers at once: no delivery is sent twice (only failed attempts are retried), never two requests of one at a time, and both work", async () => {
  while (workers.filter((w) => !w.exited).length < 2) await startWorker();
  const from = new Map(workers.map((w) => [w, w.lines.length]));
  const linesOf = (w: Program, msg: string) => w.lines.slice(from.get(w)).filter((l) => l.msg === msg);
  const ada = await person();
  const endpoints = await Promise.all(Array.from({ length: 5 }, () => ada.endpoint()));
  const ours = new Set(endpoints.map((e) => e.path));
  const inFlight = new Set<string>();
  const overlaps: string[] = [];
  receiver.answer = async (r) => {
    if (!ours.has(r.path)) return { status: 200 };
    const key = `${r.path} ${r.headers["webhook-id"]}`;
    if (inFlight.has(key)) overlaps.push(key);
    inFlight.add(key);
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
    inFlight.delete(key);
    return { status: 200 };
  };
  const EVENTS = 200;
  for (let i = 0; i < EVENTS; i += 20) {
    await h.services.db.transaction(async (tx) => {
      for (let j = i; j < i + 20; j++) await recordEvent(tx, ada.userId, "job.failed", { n: j });
    });
  }
  const total = EVENTS * endpoints.length;
  const deadline = Date.now() + 60_000;
  const count = () => receiver.received.filter((r) => ours.has(r.path)).length;
  while (count() < total && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  receiver.answer = () => ({ status: 200 });
  const keys = receiver.received.filter((r) => ours.has(r.path)).map((r) => `${r.path} ${r.headers["webhook-id"]}`);
  // A request repeats only as the retry of an attempt that failed (a timeout on this busy machine), never otherwise.
  const failed = workers.flatMap((w) => linesOf(w, "webhook attempt failed"));
  assert.equal(new Set(keys).size, total, "each delivery arrived");
  assert.equal(keys.length, total + failed.length, "nothing was sent twice but retries of failed attempts");
  assert.deepEqual(overlaps, []);
  const running = workers.filter((w) => !w.exited);
  const delivered = running.map((w) => linesOf(w, "webhook delivered").length);
  assert.equal(delivered.reduce((a, b) => a + b, 0), total, "each delivery succeeded once");
  assert.ok(delivered.every((n) => n > 0), `both workers delivered: ${delivered.join(", ")}`);
});

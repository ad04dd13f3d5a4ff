/**
 * Outbound webhooks on a real database, with the delivery worker in this process and a real HTTP
 * receiver: the endpoint API, Standard Webhooks signatures checked with the `standardwebhooks`
 * package, the outbox (events commit or roll back with their change), retries on the schedule
 * (shortened by KWS_WEBHOOK_RETRY_SCALE), Retry-After, the timeout, 410 and 5 days of failures
 * disabling an endpoint, and the delivery log with its retry.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eq, sql } from "drizzle-orm";
import { webhookEndpoints } from "../../shared/db/schema";
import { recordEvent } from "../../functions/webhooks/outbox";
import { bodyAt, type ApiMethod } from "../support/api";
import { signedInUser, type Harness } from "../support/harness";
import { seedInstance } from "../support/ingress";
import { startWebhookHarness, verified, type WebhookReceiver } from "../support/webhook-receiver";

const SCALE = 0.01;
const TIMEOUT_MS = 1500;
let h: Harness;
let receiver: WebhookReceiver;
let close: () => Promise<void>;

before(async () => {
  ({ h, receiver, close } = await startWebhookHarness({ KWS_APPS_URL: "https://kws.app", KWS_WEBHOOK_RETRY_SCALE: String(SCALE), KWS_WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS) }));
});
after(() => close?.());

let paths = 0;
async function person() {
  const { cookie, userId, account } = await signedInUser(h);
  const call = <M extends ApiMethod, P extends string>(method: M, path: P, body?: unknown) => h.api(method, `/api/v1${path}`, { body, headers: { cookie } });
  /** An endpoint at a path of its own on the receiver, for `events`. */
  const endpoint = async (events: string[] = ["app.published", "app.removed"]) => {
    const path = `/hook${paths++}`;
    const created = bodyAt(await call("POST", "/webhooks", { url: `${receiver.url}${path}`, events }), 201);
    return { ...created, path };
  };
  return { userId, account, call, endpoint };
}

test("registering answers the endpoint and a whsec_ secret of 32 bytes once; list, change, remove; others' are 404", async () => {
  const ada = await person();
  const created = await ada.call("POST", "/webhooks", { url: "https://ci.example.org/hook", events: ["instance.deployed", "instance.deployed", "job.failed"], description: "CI" });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const { webhook, secret } = bodyAt(created, 201);
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.equal(Buffer.from(secret.slice(6), "base64").length, 32);
  assert.deepEqual(webhook.events, ["instance.deployed", "job.failed"]);
  assert.equal(webhook.enabled, true);
  const stored = await h.services.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, webhook.id));
  assert.ok(!JSON.stringify(stored).includes(secret.slice(6)), "the secret is stored encrypted");

  assert.deepEqual(bodyAt(await ada.call("GET", "/webhooks"), 200).webhooks.map((w) => w.id), [webhook.id]);
  const changed = bodyAt(await ada.call("PATCH", `/webhooks/${webhook.id}`, { events: ["device.added"], enabled: false }), 200).webhook;
  assert.deepEqual([changed.events, changed.enabled], [["device.added"], false]);

  const bob = await person();
  assert.equal((await bob.call("PATCH", `/webhooks/${webhook.id}`, { enabled: true })).status, 404);
  assert.equal((await bob.call("DELETE", `/webhooks/${webhook.id}`)).status, 404);
  assert.equal((await bob.call("GET", `/webhooks/${webhook.id}/deliveries`)).status, 404);
  assert.equal((await bob.call("POST", `/webhooks/not-an-id/test`)).status, 404);
  assert.equal((await ada.call("DELETE", `/webhooks/${webhook.id}`)).status, 204);
  assert.deepEqual(bodyAt(await ada.call("GET", "/webhooks"), 200).webhooks, []);
});

test("bad input is a 400 naming the field; a sixth endpoint is 409 limit", async () => {
  const ada = await person();
  const cases: [unknown, string][] = [
    [{ url: "ftp://example.org/x", events: ["job.failed"] }, "url"],
    [{ url: "not a url", events: ["job.failed"] }, "url"],
    [{ url: "https://user:pw@example.org/x", events: ["job.failed"] }, "url"],
    [{ url: "https://example.org/x", events: [] }, "events"],
    [{ url: "https://example.org/x", events: ["instance.exploded"] }, "events.0"],
    [{ url: "https://example.org/x" }, "events"],
  ];
  for (const [body, field] of cases) {
    const res = await ada.call("POST", "/webhooks", body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(bodyAt(res, 400).error.issues?.[0]?.path, field, JSON.stringify(res.body));
  }
  const many = await Promise.all(Array.from({ length: 7 }, (_, i) => ada.call("POST", "/webhooks", { url: `https://example.org/${i}`, events: ["job.failed"] })));
  assert.equal(many.filter((r) => r.status === 201).length, 5);
  for (const r of many.filter((r) => r.status !== 201)) assert.deepEqual([r.status, (r.body as { error: { code: string } }).error.code], [409, "limit"]);
});

test("published and removed apps arrive signed, in order, with the app as the API presents it; the test event too", async () => {
  const ada = await person();
  await seedInstance(h.services.db, ada.userId);
  const { webhook, secret, path } = await ada.endpoint();
  const name = `wh${Date.now().toString(36)}`;
  bodyAt(await ada.call("POST", "/apps", { name, port: 3000, access: "public" }), 201);
  assert.equal((await ada.call("DELETE", `/apps/${name}`)).status, 204);
  const [published, removed] = await receiver.waitFor(2, 10_000, path);
  const first = verified(secret, published!);
  const second = verified(secret, removed!);
  assert.deepEqual([first.type, second.type], ["app.published", "app.removed"]);
  assert.deepEqual({ ...first.data, createdAt: undefined }, { name, port: 3000, access: "public", url: `https://${name}.kws.app/`, createdAt: undefined });
  assert.ok(Date.parse(first.timestamp) <= Date.parse(second.timestamp));
  assert.notEqual(published!.headers["webhook-id"], removed!.headers["webhook-id"]);
  assert.ok(Math.abs(Number(published!.headers["webhook-timestamp"]) - Date.now() / 1000) < 30);
  assert.throws(() => verified(`whsec_${Buffer.alloc(32, 1).toString("base64")}`, published!), "another secret does not verify");

  const sent = bodyAt(await ada.call("POST", `/webhooks/${webhook.id}/test`), 202).delivery;
  const [, , test] = await receiver.waitFor(3, 10_000, path);
  const payload = verified(secret, test!);
  assert.equal(payload.type, "webhook.test");
  assert.equal(test!.headers["webhook-id"], sent.webhookId);
});

test("after a rotation both secrets sign for 24 h: the old and the new one each verify", async () => {
  const ada = await person();
  const { webhook, secret: old, path } = await ada.endpoint();
  const rotated = bodyAt(await ada.call("POST", `/webhooks/${webhook.id}/rotate`), 200);
  assert.notEqual(rotated.secret, old);
  const until = Date.parse(rotated.webhook.previousSecretUntil ?? "");
  assert.ok(Math.abs(until - Date.now() - 24 * 3600_000) < 60_000, rotated.webhook.previousSecretUntil ?? "none");
  bodyAt(await ada.call("POST", `/webhooks/${webhook.id}/test`), 202);
  const [r] = await receiver.waitFor(1, 10_000, path);
  assert.equal(r!.headers["webhook-signature"]!.split(" ").length, 2);
  assert.equal(verified(old, r!).type, "webhook.test");
  assert.equal(verified(rotated.secret, r!).type, "webhook.test");
});

test("the outbox: an event in a transaction that rolls back is never sent; one that commits is", async () => {
  const ada = await person();
  const { path } = await ada.endpoint(["job.failed"]);
  await assert.rejects(
    h.services.db.transaction(async (tx) => {
      await recordEvent(tx, ada.userId, "job.failed", { id: "rolled-back" });
      throw new Error("the change failed");
    }),
  );
  await h.services.db.transaction((tx) => recordEvent(tx, ada.userId, "job.failed", { id: "committed" }));
  const [r] = await receiver.waitFor(1, 10_000, path);
  assert.equal(JSON.parse(r!.body).data.id, "committed");
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(receiver.received.filter((x) => x.path === path).length, 1);
});

test("500 twice then 200: three attempts with the same webhook-id, 5 s and 5 min apart (scaled), in the delivery log", async () => {
  const ada = await person();
  const { webhook, secret, path } = await ada.endpoint(["job.failed"]);
  let calls = 0;
  receiver.answer = (r) => (r.path === path && ++calls <= 2 ? { status: 500 } : { status: 200 });
  await h.services.db.transaction((tx) => recordEvent(tx, ada.userId, "job.failed", { id: "flaky" }));
  const attempts = await receiver.waitFor(3, 15_000, path);
  receiver.answer = () => ({ status: 200 });
  assert.deepEqual(new Set(attempts.map((a) => a.headers["webhook-id"])).size, 1);
  for (const a of attempts) assert.equal(verified(secret, a).data.id, "flaky");
  const gap1 = attempts[1]!.at - attempts[0]!.at;
  const gap2 = attempts[2]!.at - attempts[1]!.at;
  assert.ok(gap1 >= 5000 * SCALE * 0.9 && gap1 < 5000 * SCALE * 1.1 + 1500, `first retry after ${gap1} ms`);
  assert.ok(gap2 >= 300_000 * SCALE * 0.9 && gap2 < 300_000 * SCALE * 1.1 + 1500, `second retry after ${gap2} ms`);

  let log = bodyAt(await ada.call("GET", `/webhooks/${webhook.id}/deliveries`), 200).attempts;
  for (let i = 0; i < 20 && log.length < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    log = bodyAt(await ada.call("GET", `/webhooks/${webhook.id}/deliveries`), 200).attempts;
  }
  assert.deepEqual(log.map((a) => [a.attempt, a.statusCode, a.deliveryState]), [[3, 200, "succeeded"], [2, 500, "succeeded"], [1, 500, "succeeded"]]);
  assert.equal(log[2]!.error, "answered 500");
  assert.ok(log[2]!.nextAttemptAt && log[0]!.nextAttemptAt === null);
  assert.equal(log[0]!.webhookId, attempts[0]!.headers["webhook-id"]);
  assert.equal(log[0]!.event, "job.failed");
});

test("a 429 with Retry-After waits as long as asked, not the schedule's 5 s", async () => {
  const ada = await person();
  const { path } = await ada.endpoint(["job.failed"]);
  let calls = 0;
  receiver.answer = (r) => (r.path === path && ++calls === 1 ? { status: 429, headers: { "retry-after": "2" } } : { status: 200 });
  await h.services.db.transaction((tx) => recordEvent(tx, ada.userId, "job.failed", { id: "slow down" }));
  const attempts = await receiver.waitFor(2, 10_000, path);
  receiver.answer = () => ({ status: 200 });
  const gap = attempts[1]!.at - attempts[0]!.at;
  assert.ok(gap >= 1900 && gap < 3500, `retried after ${gap} ms`);
});

test("a receiver that never answers: the attempt ends at the timeout and is retried", async () => {
  const ada = await person();
  const { webhook, path } = await ada.endpoint(["job.failed"]);
  let calls = 0;
  receiver.answer = (r) => (r.path === path && ++calls === 1 ? "hang" : { status: 204 });
  await h.services.db.transaction((tx) => recordEvent(tx, ada.userId, "job.failed", { id: "hang" }));
  const attempts = await receiver.waitFor(2, 15_000, path);
  receiver.answer = () => ({ status: 200 });
  assert.ok(attempts[1]!.at - attempts[0]!.at >= TIMEOUT_MS, "the second attempt came after the first timed out");
  const log = bodyAt(await ada.call("GET", `/webhooks/${webhook.id}/deliveries`), 200).attempts;
  const first = log.find((a) => a.attempt === 1)!;
  assert.match(first.error ?? "", new RegExp(`no complete answer within ${TIMEOUT_MS} ms`));
  assert.ok(first.durationMs >= TIMEOUT_MS && first.durationMs < TIMEOUT_MS + 3000, `${first.durationMs} ms`);
  assert.equal(first.statusCode, null);
});

test("410 Gone disables the endpoint at once: no retry, its owner is mailed, later events are not sent", async () => {
  const ada = await person();
  const { webhook, path } = await ada.endpoint(["job.failed"]);
  receiver.answer = (r) => (r.path === path ? { status: 410 } : { status: 200 });
  await h.services.db.transaction((tx) => recordEvent(tx, ada.userId, "job.failed", { id: "gone" }));
  await receiver.waitFor(1, 10_000, path);
  const mail = await h.mailbox.find(ada.account.email, (m) => /disabled/.test(m.subject), 10_000);
  assert.match(mail.text, /410 Gone/);
  const shown = bodyAt(await ada.call("GET", "/webhooks"), 200).webhooks[0]!;
  assert.deepEqual([shown.enabled, shown.disabledReason], [false, "the endpoint answered 410 Gone"]);
  await h.services.db.transaction((tx) => recordEvent(tx, ada.userId, "job.failed", { id: "later" }));
  await new Promise((resolve) => setTimeout(resolve, 800));
  receiver.answer = () => ({ status: 200 });
  assert.equal(receiver.received.filter((r) => r.path === path).length, 1);
  const [attempt] = bodyAt(await ada.call("GET", `/webhooks/${webhook.id}/deliveries`), 200).attempts;
  assert.deepEqual([attempt!.statusCode, attempt!.deliveryState, attempt!.nextAttemptAt], [410, "failed", null]);

  // The delivery log's retry: refused while disabled; once enabled, the same webhook-id again.
  const retry = `/webhooks/${webhook.id}/deliveries/${attempt!.deliveryId}/retry` as const;
  assert.equal((await ada.call("POST", retry)).status, 409);
  bodyAt(await ada.call("PATCH", `/webhooks/${webhook.id}`, { enabled: true }), 200);
  const again = bodyAt(await ada.call("POST", retry), 202).delivery;
  assert.equal(again.webhookId, attempt!.webhookId);
  const [, redone] = await receiver.waitFor(2, 10_000, path);
  assert.equal(redone!.headers["webhook-id"], attempt!.webhookId);
  assert.equal((await person().then((bob) => bob.call("POST", retry))).status, 404);
});

test("an endpoint that failed every attempt for 5 days is disabled and its owner mailed", async () => {
  const ada = await person();
  const { webhook, path } = await ada.endpoint(["job.failed"]);
  receiver.answer = (r) => (r.path === path ? { status: 502 } : { status: 200 });
  // Failing since 5 days (scaled) and a moment ago.
  await h.services.db
    .update(webhookEndpoints)
    .set({ failingSince: sql`now() - ${5 * 24 * 3600_000 * SCALE + 1000}::float8 * interval '1 millisecond'` })
    .where(eq(webhookEndpoints.id, webhook.id));
  await h.services.db.transaction((tx) => recordEvent(tx, ada.userId, "job.failed", { id: "still failing" }));
  const mail = await h.mailbox.find(ada.account.email, (m) => /disabled/.test(m.subject), 10_000);
  receiver.answer = () => ({ status: 200 });
  assert.match(mail.text, /every attempt failed for 5 days/);
  assert.match(mail.text, new RegExp(path));
  assert.equal(bodyAt(await ada.call("GET", "/webhooks"), 200).webhooks[0]!.enabled, false);
});

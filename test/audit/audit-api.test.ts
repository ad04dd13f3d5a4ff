/**
 * The audit log through the API and pages, on a real database: who acted (person, token,
 * anonymous, system), from which address, on what, with which request id and outcome; a job's
 * end recorded when its outcome commits; a person's own view and the administrators' filters.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { finishJob } from "../../functions/core/jobs/store";
import { bodyAt, type ApiMethod, type BodyOf } from "../support/api";
import { Browser } from "../support/form-browser";
import { newAccount, signedInUser, startHarness, type Harness } from "../support/harness";
import { seedInstance } from "../support/ingress";
import { insertOnlineHost } from "../support/online-host";

type AuditEvent = BodyOf<"GET", "/api/v1/audit", 200>["events"][number];

const ADMIN_EMAIL = "audit-admin@example.org";
let h: Harness;
let admin: Awaited<ReturnType<typeof person>>;

before(async () => {
  h = await startHarness({ env: { KWS_ADMINS: ADMIN_EMAIL } });
  await insertOnlineHost(h.services.db);
  admin = await person({ email: ADMIN_EMAIL });
});
after(() => h?.close());

async function person(overrides: Record<string, string> = {}) {
  const { cookie, userId, account } = await signedInUser(h, overrides);
  const as = (credential: { cookie: string } | { token: string }, ip: string) =>
    <M extends ApiMethod, P extends string>(method: M, path: P, body?: unknown) =>
      h.api(method, `/api/v1${path}`, { body, ip, headers: "cookie" in credential ? { cookie: credential.cookie } : { authorization: `Bearer ${credential.token}` } });
  return { userId, cookie, account, as, call: as({ cookie }, "2001:db8:aa::1") };
}

const unique = () => `a${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

async function ownEvents(p: Awaited<ReturnType<typeof person>>, query = ""): Promise<AuditEvent[]> {
  return bodyAt(await p.call("GET", `/audit${query}` as "/audit"), 200).events;
}

test("each change names its actor, address, target, request id and outcome; a token's changes name the token", async () => {
  const ada = await person();
  await seedInstance(h.services.db, ada.userId);
  const created = await ada.as({ cookie: ada.cookie }, "2001:db8:1::7")("POST", "/tokens", { name: "ci" });
  const { token, secret } = bodyAt(created, 201);
  const viaToken = ada.as({ token: secret }, "2001:db8:2::9");
  const app = unique();
  const published = await h.call("POST", "/api/v1/apps", { body: { name: app, port: 80 }, ip: "2001:db8:2::9", headers: { authorization: `Bearer ${secret}` } });
  assert.equal(published.status, 201);
  const requestId = published.headers.get("x-request-id");
  assert.equal((await viaToken("DELETE", `/apps/${app}`)).status, 204);

  const events = await ownEvents(ada);
  const byAction = (action: string) => events.find((e) => e.action === action);
  const tokenCreated = byAction("token.create");
  assert.deepEqual(
    { actor: tokenCreated?.actor, target: tokenCreated?.target, outcome: tokenCreated?.outcome, ip: tokenCreated?.ip },
    { actor: { kind: "person", userId: ada.userId, tokenId: null }, target: { type: "token", id: token.id }, outcome: "succeeded", ip: "2001:db8:1::7" },
  );
  const appCreated = byAction("app.create");
  assert.deepEqual(
    { actor: appCreated?.actor, target: appCreated?.target, ip: appCreated?.ip, requestId: appCreated?.requestId },
    { actor: { kind: "token", userId: ada.userId, tokenId: token.id }, target: { type: "app", id: app }, ip: "2001:db8:2::9", requestId },
  );
  assert.equal(byAction("app.remove")?.actor.kind, "token");
  // The sign-up came from nobody signed in, and the mailed link verified it.
  assert.deepEqual(events.filter((e) => e.action.startsWith("account.")).map((e) => [e.action, e.actor.kind]), [
    ["account.verify", "anonymous"],
    ["account.register", "anonymous"],
  ]);
  assert.ok(events.every((e) => e.subjectUserId === ada.userId));
});

test("a job's request is pending at submission and its end is recorded when the outcome commits", async () => {
  const ada = await person();
  const added = bodyAt(await ada.call("POST", "/devices", { name: "laptop" }), 201);
  let [asked] = await ownEvents(ada, "?action=device.add");
  assert.deepEqual([asked?.outcome, asked?.jobId, asked?.target], ["pending", added.job.id, { type: "device", id: added.device.id }]);

  // The agent's answer, as the gateway stores it: the outcome handler commits the device and the event.
  await finishJob(h.services.db, added.job.id, { ok: false, error: { code: "wg_failed", message: "wg set failed" } });
  const events = await ownEvents(ada, "?action=device.add");
  assert.deepEqual(events.map((e) => e.outcome), ["failed", "pending"]);
  [asked] = events;
  assert.deepEqual([asked?.jobId, asked?.requestId, asked?.actor.userId, asked?.detail?.error], [added.job.id, events[1]?.requestId, ada.userId, { code: "wg_failed", message: "wg set failed" }]);
  assert.deepEqual(bodyAt(await ada.call("GET", "/devices"), 200).devices, [], "the failed add rolled the device back");
});

test("a person reads only their own events; what an administrator did to them shows without the administrator's address", async () => {
  const ada = await person();
  const bob = await person();
  await seedInstance(h.services.db, bob.userId);
  bodyAt(await bob.call("POST", "/apps", { name: unique(), port: 80 }), 201);
  bodyAt(await admin.as({ cookie: admin.cookie }, "2001:db8:ad::1")("PATCH", `/admin/quotas/${ada.userId}`, { apps: 2 }), 200);

  const adas = await ownEvents(ada);
  assert.ok(!adas.some((e) => e.actor.userId === bob.userId || e.subjectUserId === bob.userId), "nothing of bob's");
  const quota = adas.find((e) => e.action === "quota.set");
  assert.deepEqual([quota?.actor.userId, quota?.subjectUserId, quota?.ip, quota?.detail], [admin.userId, ada.userId, null, { changes: { apps: 2 } }]);
  assert.ok(adas.filter((e) => e.actor.userId === ada.userId).every((e) => e.ip !== null), "her own actions keep their address");
  assert.equal((await ada.call("GET", "/admin/audit")).status, 403);
  assert.equal((await h.call("GET", "/api/v1/audit")).status, 401);
});

test("administrators filter by actor, action prefix, target and time, and page with a cursor", async () => {
  const cy = await person();
  await seedInstance(h.services.db, cy.userId);
  const names = [unique(), unique(), unique()];
  for (const name of names) bodyAt(await cy.call("POST", "/apps", { name, port: 80 }), 201);
  const host = bodyAt(await admin.as({ cookie: admin.cookie }, "2001:db8:ad::2")("POST", "/hosts", { name: unique() }), 201).host;
  bodyAt(await admin.as({ cookie: admin.cookie }, "2001:db8:ad::2")("POST", `/hosts/${host.id}/drain`), 200);

  const adminCall = admin.call;
  const byEmail = bodyAt(await adminCall("GET", `/admin/audit?actor=${encodeURIComponent(cy.account.email)}&action=app.`), 200).events;
  assert.deepEqual(byEmail.map((e) => e.target?.id), [...names].reverse());
  assert.deepEqual(bodyAt(await adminCall("GET", `/admin/audit?target=app:${names[1]}`), 200).events.map((e) => e.action), ["app.create"]);
  const drained = bodyAt(await adminCall("GET", `/admin/audit?action=host.drain&target=host:${host.id}`), 200).events;
  assert.deepEqual(drained.map((e) => [e.actor.userId, e.ip, e.outcome]), [[admin.userId, "2001:db8:ad::2", "succeeded"]]);
  assert.equal(bodyAt(await adminCall("GET", `/admin/audit?actor=${cy.userId}&from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`), 200).events.length, 0);
  assert.equal(bodyAt(await adminCall("GET", `/admin/audit?actor=nobody@example.org`), 200).events.length, 0);
  assert.ok(bodyAt(await adminCall("GET", "/admin/audit?actor=anonymous&action=account.register"), 200).events.length >= 2);

  // Pages of 2 over everything of cy's: each event once, newest first.
  const seen: AuditEvent[] = [];
  let cursor: string | null = "";
  while (cursor !== null) {
    const page: BodyOf<"GET", "/api/v1/admin/audit", 200> = bodyAt(await adminCall("GET", `/admin/audit?actor=${cy.userId}&limit=2${cursor ? `&cursor=${cursor}` : ""}`), 200);
    assert.ok(page.events.length <= 2);
    seen.push(...page.events);
    cursor = page.nextCursor;
  }
  const all = bodyAt(await adminCall("GET", `/admin/audit?actor=${cy.userId}`), 200).events;
  assert.deepEqual(seen.map((e) => e.id), all.map((e) => e.id));
  assert.equal(new Set(seen.map((e) => e.id)).size, seen.length);
  assert.equal(seen.length, 3, "the three apps (the sign-up and its verification were anonymous)");

  for (const bad of ["?from=yesterday", "?cursor=bm9wZQ", "?limit=1000"]) assert.equal((await adminCall("GET", `/admin/audit${bad}`)).status, 400, bad);
});

test("the pages: /kws_audit lists one's own events, /kws_admin/audit everyone's for administrators only", async () => {
  const dee = await person();
  await seedInstance(h.services.db, dee.userId);
  const app = unique();
  bodyAt(await dee.call("POST", "/apps", { name: app, port: 80 }), 201);
  const own = await new Browser(h, dee.cookie).get("/kws_audit");
  assert.equal(own.status, 200);
  assert.match(own.html, new RegExp(`data-action="app.create"[^]*app:${app}`));
  assert.equal((await new Browser(h, dee.cookie).get("/kws_admin/audit")).status, 403);
  const all = await new Browser(h, admin.cookie).get(`/kws_admin/audit?actor=${encodeURIComponent(dee.account.email)}&action=app.`);
  assert.equal(all.status, 200);
  assert.match(all.html, new RegExp(`app:${app}`));
  assert.equal((await new Browser(h, admin.cookie).get("/kws_admin/audit?from=soon")).status, 400);
  assert.equal((await h.call("GET", "/kws_audit")).status, 303);
});

test("a sign-up that takes over an unverified address records that it replaced an account", async () => {
  const account = newAccount();
  bodyAt(await h.api("POST", "/api/v1/auth/register", { body: account }), 201);
  const again = await h.api("POST", "/api/v1/auth/register", { body: { ...account, username: `${account.username}x` } });
  assert.equal(again.status, 201, "an unverified address is replaced: that is a new sign-up");
  const registered = bodyAt(await admin.call("GET", "/admin/audit?action=account.register&actor=anonymous"), 200).events.filter((e) => e.detail?.email === account.email);
  assert.deepEqual(registered.map((e) => e.detail?.replaced), [1, 0]);
});

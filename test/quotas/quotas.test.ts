/**
 * Per-person quotas on a real database: the operator's defaults (KWS_QUOTA_*, KWS_INSTANCE_*), an
 * administrator's overrides through the admin API, and 20 concurrent creations that never pass
 * the limit that applies (apps, devices, domains).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import { apps, devices, domains, instances, jobs } from "../../shared/db/schema";
import { bodyAt, type ApiMethod } from "../support/api";
import { Browser } from "../support/form-browser";
import { signedInUser, startHarness, type Harness } from "../support/harness";
import { seedInstance } from "../support/ingress";
import { insertOnlineHost } from "../support/online-host";

const ADMIN_EMAIL = "quota-admin@example.org";
let h: Harness;
let admin: Awaited<ReturnType<typeof person>>;

before(async () => {
  h = await startHarness({
    env: { KWS_ADMINS: ADMIN_EMAIL, KWS_QUOTA_APPS: "4", KWS_QUOTA_DEVICES: "2", KWS_QUOTA_DOMAINS: "1", KWS_INSTANCE_MEMORY_MB: "512", KWS_INSTANCE_CPUS: "1" },
  });
  await insertOnlineHost(h.services.db);
  admin = await person({ email: ADMIN_EMAIL }, false);
});
after(() => h?.close());

async function person(overrides: Record<string, string> = {}, withInstance = true) {
  const { cookie, userId } = await signedInUser(h, overrides);
  if (withInstance) await seedInstance(h.services.db, userId);
  const call = <M extends ApiMethod, P extends string>(method: M, path: P, body?: unknown) => h.api(method, `/api/v1${path}`, { body, headers: { cookie } });
  return { userId, cookie, call };
}

const unique = () => `q${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

/** 20 requests at once; how many were created, and every refusal is the quota's 409 naming it. */
async function twentyAtOnce(make: () => Promise<{ status: number; body: unknown }>, quota: string) {
  const results = await Promise.all(Array.from({ length: 20 }, make));
  for (const r of results.filter((r) => r.status !== 201)) {
    assert.equal(r.status, 409, JSON.stringify(r.body));
    const error = (r.body as { error: { code: string; message: string } }).error;
    assert.equal(error.code, "limit");
    assert.match(error.message, new RegExp(`^quota ${quota}: you have \\d+ .* and your limit is \\d+`));
  }
  return results.filter((r) => r.status === 201).length;
}

const count = async (table: typeof apps | typeof devices | typeof domains, userId: string) =>
  (await h.services.db.select({ id: table.id }).from(table).where(eq(table.userId, userId))).length;

test("the operator's defaults apply to everyone: GET /quotas, and 20 concurrent apps make exactly 4", async () => {
  const ada = await person();
  assert.deepEqual(bodyAt(await ada.call("GET", "/quotas"), 200).quotas, {
    instanceMemoryMB: 512,
    instanceCpus: 1,
    instanceDiskGB: 10,
    devices: 2,
    pgUsers: 5,
    pgDatabases: 10,
    apps: 4,
    domains: 1,
    webhooks: 5,
  });
  assert.equal(await twentyAtOnce(() => ada.call("POST", "/apps", { name: unique(), port: 80 }), "apps"), 4);
  assert.equal(await count(apps, ada.userId), 4);
});

test("an override raises one person's limit (concurrent creations stop at it), null gives the default back, others keep theirs", async () => {
  const ada = await person();
  const bob = await person();
  const set = await admin.call("PATCH", `/admin/quotas/${ada.userId}`, { apps: 7, devices: 5 });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.deepEqual({ apps: set.body.quotas.apps, devices: set.body.quotas.devices, defaultApps: set.body.defaults.apps }, { apps: 7, devices: 5, defaultApps: 4 });
  assert.deepEqual(set.body.overrides, { apps: 7, devices: 5 });
  assert.equal(bodyAt(await ada.call("GET", "/quotas"), 200).quotas.apps, 7);

  assert.equal(await twentyAtOnce(() => ada.call("POST", "/apps", { name: unique(), port: 80 }), "apps"), 7);
  assert.equal(await twentyAtOnce(() => bob.call("POST", "/apps", { name: unique(), port: 80 }), "apps"), 4, "bob keeps the default");

  // Devices: each a row, an address and a queued job on the host (no agent: they stay pending).
  assert.equal(await twentyAtOnce(() => ada.call("POST", "/devices", { name: unique() }), "devices"), 5);
  assert.equal(await count(devices, ada.userId), 5);
  assert.equal(await twentyAtOnce(() => bob.call("POST", "/devices", { name: unique() }), "devices"), 2);

  // Back to the default: nothing is removed, but no more may be made.
  const cleared = bodyAt(await admin.call("PATCH", `/admin/quotas/${ada.userId}`, { apps: null }), 200);
  assert.equal(cleared.quotas.apps, 4);
  assert.deepEqual(cleared.overrides, { devices: 5 });
  assert.equal(await count(apps, ada.userId), 7);
  const refused = await ada.call("POST", "/apps", { name: unique(), port: 80 });
  assert.equal(refused.status, 409);
  assert.match(bodyAt(refused, 409).error.message, /you have 7 apps and your limit is 4/);
});

test("a lowered limit of 0 refuses the first one; domains follow overrides under concurrency too", async () => {
  const ada = await person();
  const app = unique();
  assert.equal((await ada.call("POST", "/apps", { name: app, port: 80 })).status, 201);
  assert.equal(await twentyAtOnce(() => ada.call("POST", "/domains", { domain: `${unique()}.example.org`, app }), "domains"), 1);
  bodyAt(await admin.call("PATCH", `/admin/quotas/${ada.userId}`, { domains: 3 }), 200);
  assert.equal(await twentyAtOnce(() => ada.call("POST", "/domains", { domain: `${unique()}.example.org`, app }), "domains"), 2);
  assert.equal(await count(domains, ada.userId), 3);

  const carol = await person();
  bodyAt(await admin.call("PATCH", `/admin/quotas/${carol.userId}`, { apps: 0 }), 200);
  const none = await carol.call("POST", "/apps", { name: unique(), port: 80 });
  assert.match(bodyAt(none, 409).error.message, /^quota apps: you have 0 apps and your limit is 0/);
});

test("the instance is deployed at the person's memory and CPU quota", async () => {
  const ada = await person({}, false);
  bodyAt(await admin.call("PATCH", `/admin/quotas/${ada.userId}`, { instanceMemoryMB: 768, instanceCpus: 2, instanceDiskGB: 4 }), 200);
  const deployed = await ada.call("POST", "/instance", { username: "ada", password: "Good-Pass-123" });
  const jobId = bodyAt(deployed, 202).job.id;
  const [job] = await h.services.db.select().from(jobs).where(eq(jobs.id, jobId));
  assert.deepEqual([job?.payload.memoryMB, job?.payload.cpus, job?.payload.diskGB], [768, 2, 4]);
  const [row] = await h.services.db.select().from(instances).where(eq(instances.userId, ada.userId));
  assert.deepEqual([row?.memoryMB, row?.cpus], [768, 2]);

  const bob = await person({}, false);
  const other = bodyAt(await bob.call("POST", "/instance", { username: "bob", password: "Good-Pass-123" }), 202).job.id;
  const [bobJob] = await h.services.db.select().from(jobs).where(eq(jobs.id, other));
  assert.deepEqual([bobJob?.payload.memoryMB, bobJob?.payload.cpus, bobJob?.payload.diskGB], [512, 1, 10], "the defaults");
});

test("the admin API: administrators only, unknown keys and out-of-range values named, unknown people 404", async () => {
  const ada = await person({}, false);
  assert.equal((await ada.call("GET", `/admin/quotas/${ada.userId}`)).status, 403);
  assert.equal((await ada.call("PATCH", `/admin/quotas/${ada.userId}`, { apps: 100 })).status, 403);
  assert.equal((await h.api("GET", `/api/v1/admin/quotas/${ada.userId}`)).status, 401);

  const cases: [unknown, string][] = [
    [{ gpus: 1 }, "body"],
    [{ apps: -1 }, "apps"],
    [{ apps: 1.5 }, "apps"],
    [{ instanceMemoryMB: 32 }, "instanceMemoryMB"],
    [{ instanceCpus: 0 }, "instanceCpus"],
    [{ devices: 1001 }, "devices"],
  ];
  for (const [body, field] of cases) {
    const res = await admin.call("PATCH", `/admin/quotas/${ada.userId}`, body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(bodyAt(res, 400).error.issues?.[0]?.path, field, JSON.stringify(res.body));
  }
  assert.equal((await admin.call("PATCH", "/admin/quotas/00000000-0000-4000-8000-000000000000", { apps: 1 })).status, 404);
  assert.equal((await admin.call("GET", "/admin/quotas/not-an-id")).status, 400);
  const got = bodyAt(await admin.call("GET", `/admin/quotas/${ada.userId}`), 200);
  assert.deepEqual(got.overrides, {});
  assert.equal(got.quotas.apps, 4);
});

test("the admin page shows a person's quotas and saves an override; others get 403", async () => {
  const ada = await person({}, false);
  const browser = new Browser(h, admin.cookie);
  const page = `/kws_admin/quotas?user=${encodeURIComponent(ada.userId)}`;
  assert.match((await browser.get(page)).html, /data-testid="quota-form"/);
  const saved = await browser.post(page, "/kws_admin/quotas", { userId: ada.userId, apps: "9", devices: "" });
  assert.equal(saved.status, 303, saved.html);
  assert.equal(bodyAt(await ada.call("GET", "/quotas"), 200).quotas.apps, 9);
  const bad = await browser.post(page, "/kws_admin/quotas", { userId: ada.userId, apps: "-2" });
  assert.equal(bad.status, 400);
  assert.match(bad.html, /at least 0/);
  assert.equal((await new Browser(h, ada.cookie).get("/kws_admin/quotas")).status, 403);
});

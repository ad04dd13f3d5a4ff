/**
 * Published apps through the API, on a real database: validation naming the field, reserved and
 * taken names, the per-person limit (also under concurrent creates), ownership, and the apps going
 * with their instance.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import { apps, instances, jobs } from "../../shared/db/schema";
import { DNS_LABEL, lockNames, newInstanceLabel } from "../../functions/ingress/names";
import { applyInstanceOutcome } from "../../functions/instances/outcome";
import { insertJob } from "../../functions/core/jobs/store";
import { bodyAt, type ApiMethod } from "../support/api";
import { signedInUser, startHarness, type Harness } from "../support/harness";
import { seedInstance } from "../support/ingress";

let h: Harness;
const APPS_URL = "https://kws.app";

before(async () => {
  h = await startHarness({ env: { KWS_APPS_URL: APPS_URL } });
});
after(() => h?.close());

async function person(withInstance = true) {
  const { cookie, userId } = await signedInUser(h);
  const instance = withInstance ? await seedInstance(h.services.db, userId) : undefined;
  const call = <M extends ApiMethod, P extends string>(method: M, path: P, body?: unknown) => h.api(method, `/api/v1${path}`, { body, headers: { cookie } });
  return { userId, cookie, instance, call };
}

const unique = () => `app${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

test("publishing answers the app with its URL under the apps base; list, change and remove it", async () => {
  const ada = await person();
  const name = unique();
  const created = await ada.call("POST", "/apps", { name, port: 3000 });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const { app } = created.body;
  assert.deepEqual({ ...app, createdAt: undefined }, { name, port: 3000, access: "owner", url: `https://${name}.kws.app/`, createdAt: undefined });
  assert.ok(!Number.isNaN(Date.parse(app.createdAt)));

  assert.deepEqual(bodyAt(await ada.call("GET", "/apps"), 200).apps.map((a) => a.name), [name]);
  const changed = await ada.call("PATCH", `/apps/${name}`, { port: 8080, access: "public" });
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  assert.equal(changed.body.app.port, 8080);
  assert.equal(changed.body.app.access, "public");

  const removed = await ada.call("DELETE", `/apps/${name}`);
  assert.equal(removed.status, 204);
  assert.equal((await ada.call("DELETE", `/apps/${name}`)).status, 404);
  assert.deepEqual(bodyAt(await ada.call("GET", "/apps"), 200).apps, []);
});

test("bad input is a 400 naming the field and the rule", async () => {
  const ada = await person();
  const cases: [unknown, string, RegExp][] = [
    [{ name: "Shop", port: 80 }, "name", /DNS label/],
    [{ name: "-shop", port: 80 }, "name", /DNS label/],
    [{ name: "a".repeat(64), port: 80 }, "name", /DNS label/],
    [{ name: "shop.example", port: 80 }, "name", /DNS label/],
    [{ name: "www", port: 80 }, "name", /reserved/],
    [{ name: "api", port: 80 }, "name", /reserved/],
    [{ name: unique(), port: 0 }, "port", /at least 1/],
    [{ name: unique(), port: 65536 }, "port", /at most 65535/],
    [{ name: unique(), port: 1.5 }, "port", /whole number/],
    [{ name: unique(), port: 80, access: "everyone" }, "access", /owner/],
    [{ port: 80 }, "name", /./],
  ];
  for (const [body, field, rule] of cases) {
    const res = await ada.call("POST", "/apps", body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.error.code, "invalid");
    const issue = res.body.error.issues?.find((i) => i.path === field);
    assert.ok(issue, `${JSON.stringify(body)}: an issue for ${field} in ${JSON.stringify(res.body.error.issues)}`);
    assert.match(issue.message, rule);
  }
  const patch = await ada.call("PATCH", `/apps/${unique()}`, {});
  assert.equal(patch.status, 400, "a change must change something");
  assert.equal(bodyAt(await ada.call("PATCH", `/apps/${unique()}`, { port: 99999 }), 400).error.issues?.[0]?.path, "port");
  assert.deepEqual(bodyAt(await ada.call("GET", "/apps"), 200).apps, [], "nothing was created by any of them");
});

test("a name is taken once, across people, and no app may take an instance's label", async () => {
  const ada = await person();
  const bob = await person();
  const name = unique();
  assert.equal((await ada.call("POST", "/apps", { name, port: 80 })).status, 201);
  const again = await bob.call("POST", "/apps", { name, port: 80 });
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, "conflict");
  assert.match(again.body.error.message, /taken/);

  const label = bob.instance!.label;
  const ide = await ada.call("POST", "/apps", { name: label, port: 80 });
  assert.equal(ide.status, 409, "another person's instance label");
  assert.equal(ide.body.error.code, "conflict");
});

test("a new instance's label is never an app's name", async () => {
  const ada = await person();
  const name = unique();
  assert.equal((await ada.call("POST", "/apps", { name, port: 80 })).status, 201);
  const label = await h.services.db.transaction(async (tx) => {
    await lockNames(tx);
    return newInstanceLabel(tx, name.toUpperCase());
  });
  assert.notEqual(label, name);
  assert.ok(label.startsWith(`${name}-`), label);
  assert.match(label, DNS_LABEL);
});

test("publishing needs an instance", async () => {
  const nobody = await person(false);
  const res = await nobody.call("POST", "/apps", { name: unique(), port: 80 });
  assert.equal(res.status, 409);
  assert.match(res.body.error.message, /needs an instance/);
});

test("at most 10 apps per person, even when the creates arrive together", async () => {
  const ada = await person();
  const results = await Promise.all(Array.from({ length: 14 }, () => ada.call("POST", "/apps", { name: unique(), port: 80 })));
  assert.equal(results.filter((r) => r.status === 201).length, 10, JSON.stringify(results.map((r) => r.status)));
  for (const r of results.filter((r) => r.status !== 201)) assert.equal(r.body.error.code, "limit");
  assert.equal(bodyAt(await ada.call("GET", "/apps"), 200).apps.length, 10);
});

test("only the owner changes or removes an app; anonymous calls are refused", async () => {
  const ada = await person();
  const bob = await person();
  const name = unique();
  await ada.call("POST", "/apps", { name, port: 80 });
  assert.equal((await bob.call("PATCH", `/apps/${name}`, { access: "public" })).status, 404);
  assert.equal((await bob.call("DELETE", `/apps/${name}`)).status, 404);
  assert.equal(bodyAt(await ada.call("GET", "/apps"), 200).apps[0]?.access, "owner");
  assert.equal((await h.call("GET", "/api/v1/apps")).status, 401);
  assert.equal((await h.call("POST", "/api/v1/apps", { body: { name: unique(), port: 80 } })).status, 401);
});

test("a successful kill removes the instance's apps in the same transaction", async () => {
  const ada = await person();
  const name = unique();
  await ada.call("POST", "/apps", { name, port: 80 });
  const db = h.services.db;
  const job = await insertJob(db, { hostId: ada.instance!.hostId, userId: ada.userId, kind: "instance.delete", payload: {}, deadline: new Date(Date.now() + 60_000) });
  await db.update(instances).set({ jobId: job.id }).where(eq(instances.id, ada.instance!.id));
  await db.update(jobs).set({ status: "succeeded" }).where(eq(jobs.id, job.id));
  await db.transaction((tx) => applyInstanceOutcome(tx, { ...job, status: "succeeded" }, h.config));
  assert.deepEqual(await db.select().from(apps).where(eq(apps.name, name)), []);
  assert.deepEqual(bodyAt(await ada.call("GET", "/apps"), 200).apps, []);
});

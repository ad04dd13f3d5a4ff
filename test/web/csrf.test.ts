import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import { jobs } from "../../shared/db/schema";
import { bodyAt, replyOf } from "../support/api";
import { newAccount, signedInUser, startHarness, type Harness } from "../support/harness";

let h: Harness;
let admin: Awaited<ReturnType<typeof signedInUser>>;
const adminEmail = `admin.csrf.${Date.now().toString(36)}@example.org`;

before(async () => {
  h = await startHarness({ config: { admins: [adminEmail] } });
  admin = await signedInUser(h, { email: adminEmail });
});
after(() => h.close());

const EVIL = "https://evil.example";
// app.request() sends to http://localhost: that is the request's own host here.
const OWN_HOST = "http://localhost";

async function newHost(): Promise<string> {
  const res = await h.call("POST", "/api/v1/hosts", { body: { name: `h-${Math.random().toString(36).slice(2, 8)}` }, headers: { cookie: admin.cookie } });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()).host.id;
}

async function draining(id: string): Promise<boolean> {
  const list = bodyAt(await h.api("GET", "/api/v1/hosts", { headers: { cookie: admin.cookie } }), 200);
  return list.hosts.find((x) => x.id === id)!.draining;
}

test("a body-less cross-origin POST with the admin's cookie does not drain a host: 403 in the error envelope", async () => {
  const id = await newHost();
  const res = await h.call("POST", `/api/v1/hosts/${id}/drain`, { headers: { cookie: admin.cookie, origin: EVIL } });
  assert.equal(res.status, 403);
  const body = await res.json();
  assert.equal(body.error.code, "forbidden");
  assert.match(body.error.message, /cross-site/);
  assert.ok(body.error.requestId);
  assert.equal(await draining(id), false, "the host is not draining");
});

test("a cross-site text/plain POST /instance/stop is refused and queues nothing", async () => {
  const { cookie, userId } = await signedInUser(h);
  const res = await h.call("POST", "/api/v1/instance/stop", {
    body: "{}",
    headers: { cookie, origin: EVIL, "content-type": "text/plain" },
  });
  assert.equal(res.status, 403);
  assert.equal((await h.services.db.select().from(jobs).where(eq(jobs.userId, userId))).length, 0);
});

test("without Origin, Sec-Fetch-Site decides: cross-site and same-site (a sibling subdomain) are refused", async () => {
  const id = await newHost();
  for (const site of ["cross-site", "same-site", "none"]) {
    const res = await h.call("POST", `/api/v1/hosts/${id}/drain`, { headers: { cookie: admin.cookie, "sec-fetch-site": site } });
    assert.equal(res.status, 403, site);
  }
  assert.equal(await draining(id), false);
  const same = await h.call("POST", `/api/v1/hosts/${id}/drain`, { headers: { cookie: admin.cookie, "sec-fetch-site": "same-origin" } });
  assert.equal(same.status, 200);
  assert.equal(await draining(id), true);
});

test("opaque and sibling origins are refused; DELETE and the sign-in API are covered too", async () => {
  const id = await newHost();
  for (const origin of ["null", "https://app.kws.test", "http://kws.test:8081", "not a url"]) {
    const res = await h.call("POST", `/api/v1/hosts/${id}/drain`, { headers: { cookie: admin.cookie, origin } });
    assert.equal(res.status, 403, origin);
  }
  const del = await h.call("DELETE", `/api/v1/hosts/${id}`, { headers: { cookie: admin.cookie, origin: EVIL } });
  assert.equal(del.status, 403);
  const account = newAccount();
  const reg = await h.call("POST", "/api/v1/auth/register", { body: account, headers: { origin: EVIL } });
  assert.equal(reg.status, 403, "a cross-site sign-up is refused as well");
});

test("the control plane's own origins, curl (neither header) and API tokens keep working", async () => {
  const id = await newHost();
  const own = await h.call("POST", `/api/v1/hosts/${id}/drain`, { headers: { cookie: admin.cookie, origin: h.config.publicUrl } });
  assert.equal(own.status, 200, "PUBLIC_URL's origin");
  const undrain = await h.call("POST", `/api/v1/hosts/${id}/undrain`, { headers: { cookie: admin.cookie, origin: OWN_HOST } });
  assert.equal(undrain.status, 200, "the request's own host");
  const curl = await h.call("POST", `/api/v1/hosts/${id}/drain`, { headers: { cookie: admin.cookie } });
  assert.equal(curl.status, 200, "no Origin, no Sec-Fetch-Site");

  const created = await h.call("POST", "/api/v1/tokens", { body: { name: "ops" }, headers: { cookie: admin.cookie } });
  const { secret } = bodyAt(await replyOf(created), 201);
  const viaToken = await h.call("POST", `/api/v1/hosts/${id}/undrain`, { headers: { authorization: `Bearer ${secret}`, origin: EVIL } });
  assert.equal(viaToken.status, 200, "a Bearer request is exempt");
  assert.equal(await draining(id), false);

  const get = await h.call("GET", "/api/v1/hosts", { headers: { cookie: admin.cookie, origin: EVIL } });
  assert.equal(get.status, 200, "reads are not state-changing");
});

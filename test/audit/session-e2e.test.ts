import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { bodyAt, fetchApi, type ApiMethod, type BodyOf } from "../support/api";
import { sh } from "../support/netns";
import { startPgCluster, type PgTestCluster } from "../support/pg-cluster";
import { Pipeline } from "../support/pipeline";
import type { SignedInAccount } from "../support/log-accounts";

/**
 * A scripted session through the real pipeline (control plane, agent, LXD with the busybox image,
 * the agent's WireGuard interface, a managed-PostgreSQL cluster of the test's own), each request
 * from a client address the proxy names: every change is in the audit log with its actor and that
 * address, a job's change with its end; one person never reads another's events.
 */
const id = Math.random().toString(36).slice(2, 6);
const k = 10 + Math.floor(Math.random() * 200);
const IF = `oqwg${id}`;
const PORT = 53_000 + Math.floor(Math.random() * 1000);
const PERSON_IP = "198.51.100.23";
const ADMIN_IP = "203.0.113.77";

type AuditEvent = BodyOf<"GET", "/api/v1/audit", 200>["events"][number];

let cluster: PgTestCluster;
let p: Pipeline;
let ada: SignedInAccount;
let token: string;

/** A request from `ip` (TRUST_PROXY is on in the pipeline) with a bearer token or a session cookie. */
function from(ip: string, credential: { token: string } | { cookie: string }) {
  return <M extends ApiMethod, P extends string>(method: M, path: P, body?: unknown) =>
    fetchApi(p.url, method, `/api/v1${path}`, {
      body,
      ...("token" in credential ? { token: credential.token } : {}),
      headers: { "x-forwarded-for": ip, ...("cookie" in credential ? { cookie: credential.cookie } : {}) },
    });
}

before(async () => {
  cluster = await startPgCluster();
  p = await Pipeline.start({
    env: {
      KWS_BRIDGE_RANGE: "172.30.0.90-172.30.0.94",
      KWS_INSTANCE_IMAGE: "kws/busybox",
      KWS_INSTANCE_PROVISION: "false",
      KWS_INSTANCE_MEMORY_MB: "64",
      PG_SERVICE_URL: cluster.adminUrl,
    },
    wireguard: { interface: IF, address: `10.214.${k}.1/24`, port: PORT, endpoint: `198.51.100.1:${PORT}` },
  });
  await p.until(async () => Boolean((await p.hostRow()).facts?.wireguard), 30_000, "wireguard facts");
  ada = await p.account();
});

after(async () => {
  if (token) {
    const kill = await p.api("DELETE", "/instance", undefined, token).catch(() => undefined);
    if (kill?.status === 202) await p.waitFinal(kill.body.job.id, 60_000, token).catch(() => undefined);
    await p.api("DELETE", "/pg/users/oq_audit_app", undefined, token).catch(() => undefined);
  }
  await p?.close();
  await cluster?.stop();
  try {
    sh("ip", ["link", "del", IF]);
  } catch {
    // Not there.
  }
});

test("deploy, device, database user, token and a host drain are each recorded with actor and address", async () => {
  // A token made from the browser session, then everything else through it.
  const made = await from(PERSON_IP, { cookie: ada.cookie })("POST", "/tokens", { name: "laptop cli" });
  assert.equal(made.status, 201, made.text);
  token = made.body.secret;
  const tokenId = made.body.token.id;
  const api = from(PERSON_IP, { token });

  const deploy = await api("POST", "/instance", { username: "dev", password: "Busy-Box-123" });
  assert.equal(deploy.status, 202, deploy.text);
  assert.equal((await p.waitFinal(deploy.body.job.id, 120_000, token)).status, "succeeded");
  const device = await api("POST", "/devices", { name: "laptop" });
  assert.equal(device.status, 201, device.text);
  assert.equal((await p.waitFinal(device.body.job.id, 60_000, token)).status, "succeeded");
  const pgUser = await api("POST", "/pg/users", { name: "oq_audit_app" });
  assert.equal(pgUser.status, 201, pgUser.text);
  const drained = await from(ADMIN_IP, { token: p.token })("POST", `/hosts/${p.host.id}/drain`);
  assert.equal(drained.status, 200, drained.text);
  assert.equal((await from(ADMIN_IP, { token: p.token })("POST", `/hosts/${p.host.id}/undrain`)).status, 200);

  const events = (await api("GET", "/audit?limit=100" as "/audit")).body as { events: AuditEvent[] };
  const one = (action: string, outcome: string) => {
    const found = events.events.filter((e) => e.action === action && e.outcome === outcome);
    assert.equal(found.length, 1, `${action} ${outcome} in ${JSON.stringify(events.events.map((e) => [e.action, e.outcome]))}`);
    return found[0]!;
  };
  const adaId = bodyAt(await api("GET", "/me"), 200).user.id;
  const viaToken = { kind: "token", userId: adaId, tokenId };

  const created = events.events.find((e) => e.action === "token.create" && e.target?.id === tokenId);
  assert.ok(created, "the token's creation");
  assert.deepEqual([created.actor.kind, created.actor.tokenId, created.ip, created.target], ["person", null, PERSON_IP, { type: "token", id: tokenId }]);
  for (const [action, jobId] of [
    ["instance.deploy", deploy.body.job.id],
    ["device.add", device.body.job.id],
  ] as const) {
    const asked = one(action, "pending");
    const ended = one(action, "succeeded");
    assert.deepEqual([asked.actor, asked.ip, asked.jobId], [viaToken, PERSON_IP, jobId], action);
    assert.deepEqual([ended.actor, ended.ip, ended.jobId, ended.requestId, ended.target], [viaToken, PERSON_IP, jobId, asked.requestId, asked.target], action);
    assert.ok(asked.requestId, `${action} names its request`);
  }
  assert.equal(one("device.add", "pending").target?.id, device.body.device.id);
  const pg = one("pg.user.create", "succeeded");
  assert.deepEqual([pg.actor, pg.ip, pg.target], [viaToken, PERSON_IP, { type: "pg_user", id: "oq_audit_app" }]);
  assert.ok(!events.events.some((e) => e.action.startsWith("host.")), "the administrator's host changes are not ada's");

  const drains = (await from(ADMIN_IP, { token: p.token })("GET", `/admin/audit?target=host:${p.host.id}` as "/admin/audit")).body as { events: AuditEvent[] };
  assert.deepEqual(
    drains.events.map((e) => [e.action, e.actor.kind, e.outcome]),
    [
      ["host.undrain", "token", "succeeded"],
      ["host.drain", "token", "succeeded"],
      ["host.create", "token", "succeeded"],
    ],
  );
  // The pipeline registered its host without a proxy header: the peer's own (loopback) address.
  assert.deepEqual(drains.events.map((e) => e.ip?.replace(/^::ffff:/, "")), [ADMIN_IP, ADMIN_IP, "127.0.0.1"]);
});

test("another person reads none of ada's events and cannot use the administrators' log", async () => {
  const bob = await p.account();
  const api = from("198.51.100.99", { token: bob.token });
  const theirs = (await api("GET", "/audit?limit=100" as "/audit")).body as { events: AuditEvent[] };
  assert.ok(theirs.events.length > 0, "bob's own sign-up and token");
  const adaApi = from(PERSON_IP, { token: ada.token });
  const adaId = bodyAt(await adaApi("GET", "/me"), 200).user.id;
  const adaIds = new Set(((await adaApi("GET", "/audit?limit=100" as "/audit")).body as { events: AuditEvent[] }).events.map((e) => e.id));
  assert.ok(adaIds.size > 0);
  assert.ok(!theirs.events.some((e) => adaIds.has(e.id) || e.actor.userId === adaId || e.subjectUserId === adaId));
  assert.equal((await api("GET", "/admin/audit")).status, 403);
});

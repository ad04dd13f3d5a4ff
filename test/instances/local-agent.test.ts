/**
 * `npm start` on a machine with LXD and nothing else: embedded PostgreSQL (PGlite), in-process
 * queue and KV, mails in the log, and its own agent for this machine's LXD, enrolled as the host
 * "local". A person signs up and deploys an instance with nothing else installed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { LxdClient } from "../../agent/lxd/client";
import { findLxdSocket } from "../../agent/lxd/socket";
import { bodyAt, fetchApi, resultOf, type ApiMethod } from "../support/api";
import { accountThroughLog } from "../support/log-accounts";
import { embeddedKws, type Program } from "../support/processes";

const dir = mkdtempSync(join(tmpdir(), "kws-local-"));
let kws: Program;
let url: string;
// An API token: it is kept in the (embedded) database, so it outlives a restart, unlike a session.
let token: string;
const lxd = new LxdClient({ socketPath: findLxdSocket() ?? "/var/lib/lxd/unix.socket" });

before(async () => {
  ({ kws, url } = await embeddedKws(join(dir, "data"), {
    KWS_LOCAL_WIREGUARD: "off",
    KWS_INSTANCE_IMAGE: "kws/busybox",
    KWS_INSTANCE_PROVISION: "false",
    KWS_INSTANCE_MEMORY_MB: "64",
    KWS_BRIDGE_RANGE: "172.30.0.160-172.30.0.169",
    GATEWAY_HEARTBEAT_MS: "1000",
  }));
  kws.start();
  await kws.waitFor((l) => l.msg === "listening", 60_000);
});

after(async () => {
  if (token) {
    const kill = await api("DELETE", "/instance");
    if (kill.status === 202) await until(async () => (await instance()).state === "none", 60_000).catch(() => undefined);
  }
  await kws?.stop("SIGTERM").catch(() => kws.stop("SIGKILL"));
  rmSync(dir, { recursive: true, force: true });
});

const api = <M extends ApiMethod, P extends string>(method: M, path: P, body?: unknown) => fetchApi(url, method, `/api/v1${path}`, { body, token });
const instance = async () => bodyAt(await api("GET", "/instance"), 200);

async function until(check: () => Promise<boolean>, ms: number) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 200));
  }
}

test("sign up, then deploy an instance on this machine's LXD through npm start's own agent", async () => {
  await kws.waitFor((l) => l.msg === "enrolled this machine as a host", 30_000);
  assert.equal(statSync(join(dir, "data", "agent", "credential.json")).mode & 0o777, 0o600, "its credential is kept 0600");

  ({ token } = await accountThroughLog(kws, url));

  const deploy = await api("POST", "/instance", { username: "dev", password: "Local-Box-123" });
  assert.equal(deploy.status, 202, JSON.stringify(deploy.body));
  let inst = await instance();
  await until(async () => ["running", "failed"].includes((inst = await instance()).state), 120_000);
  assert.equal(inst.state, "running", JSON.stringify(inst.job));
  assert.equal(inst.host, "local");
  assert.ok(inst.job && inst.ip);
  const job = bodyAt(await api("GET", `/jobs/${inst.job.id}`), 200).job;
  const state = await lxd.getInstanceState(resultOf(job, "instance.deploy").name);
  assert.equal(state.status, "Running", "the container runs in this machine's LXD");
  assert.ok(state.ipv4.includes(inst.ip));
});

test("restarted, npm start's agent comes back as the same host, with no second enrollment, and runs the instance's jobs", async () => {
  await kws.stop("SIGTERM");
  const from = kws.lines.length;
  kws.start();
  await kws.waitFor((l) => l.msg === "listening", 60_000, from);
  const stop = await api("POST", "/instance/stop");
  assert.equal(stop.status, 202, JSON.stringify(stop.body));
  await until(async () => (await instance()).state === "stopped", 60_000);
  assert.ok(!kws.lines.slice(from).some((l) => l.msg === "enrolled this machine as a host"), "no new enrollment");
  assert.equal((await instance()).host, "local");
});

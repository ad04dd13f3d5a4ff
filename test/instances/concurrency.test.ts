import assert from "node:assert/strict";
import { totalmem } from "node:os";
import { after, before, test } from "node:test";
import { bodyAt, resultOf } from "../support/api";
import { Pipeline } from "../support/pipeline";

const USERS = 20;
const MEMORY_MB = 64;
// The agent reports os.totalmem() of this machine: leave room for exactly 20 instances (and half of one more).
const RESERVE_MB = Math.floor(totalmem() / 1024 / 1024) - USERS * MEMORY_MB - MEMORY_MB / 2;

let p: Pipeline;
let tokens: string[];
before(async () => {
  p = await Pipeline.start({
    env: {
      KWS_BRIDGE_RANGE: "172.30.0.40-172.30.0.79",
      KWS_INSTANCE_IMAGE: "kws/busybox",
      KWS_INSTANCE_PROVISION: "false",
      KWS_INSTANCE_MEMORY_MB: String(MEMORY_MB),
      KWS_HOST_MEMORY_RESERVE_MB: String(RESERVE_MB),
    },
  });
  await p.until(async () => (await p.hostRow()).facts !== null, 20_000, "facts");
  tokens = await Promise.all(Array.from({ length: USERS + 1 }, () => p.userToken()));
});
after(async () => {
  for (const token of tokens ?? []) {
    const kill = await p.api("DELETE", "/instance", undefined, token).catch(() => undefined);
    if (kill?.status === 202) await p.waitFinal(kill.body.job.id, 120_000, token).catch(() => undefined);
  }
  await p?.close();
});

test(`${USERS} users deploying at once on one host get ${USERS} distinct addresses and ${USERS} running containers`, async () => {
  const deploys = await Promise.all(tokens.slice(0, USERS).map((t, i) => p.api("POST", "/instance", { username: `dev${i}`, password: "Busy-Box-123" }, t)));
  assert.deepEqual(deploys.map((d) => d.status), Array(USERS).fill(202), JSON.stringify(deploys.find((d) => d.status !== 202)?.body));
  const jobs = await Promise.all(deploys.map((d, i) => p.waitFinal(bodyAt(d, 202).job.id, 180_000, tokens[i])));
  assert.deepEqual(jobs.map((j) => j.status), Array(USERS).fill("succeeded"), JSON.stringify(jobs.find((j) => j.status !== "succeeded")?.error));

  const views = await Promise.all(tokens.slice(0, USERS).map((t) => p.api("GET", "/instance", undefined, t)));
  const addresses = views.map((v) => bodyAt(v, 200).ip);
  assert.equal(new Set(addresses).size, USERS, "no address given twice");
  assert.ok(views.every((v) => bodyAt(v, 200).state === "running"));

  // In LXD: each container runs and has its address.
  const results = jobs.map((j) => resultOf(j, "instance.deploy"));
  for (const { name, ipv4 } of results) {
    const state = await p.lxd.getInstanceState(name);
    assert.equal(state.status, "Running");
    assert.ok(ipv4 && state.ipv4.includes(ipv4), `${name} has ${ipv4}`);
  }
  assert.equal(new Set(results.map((r) => r.ipv4)).size, USERS);

  // The host is full now: the next deploy is refused at once, with no job and no row.
  const full = await p.api("POST", "/instance", { username: "late", password: "Busy-Box-123" }, tokens[USERS]);
  assert.equal(full.status, 503);
  assert.equal(full.body.error.code, "no_capacity");
  assert.equal(bodyAt(await p.api("GET", "/instance", undefined, tokens[USERS]), 200).state, "none");

  // Kill them all at once: every container and address goes.
  const kills = await Promise.all(tokens.slice(0, USERS).map((t) => p.api("DELETE", "/instance", undefined, t)));
  const killed = await Promise.all(kills.map((k, i) => p.waitFinal(bodyAt(k, 202).job.id, 180_000, tokens[i])));
  assert.ok(killed.every((k) => k.status === "succeeded"));
  for (const { name } of results) assert.equal(await p.lxd.getInstance(name), undefined);

  // Room again: the late user deploys and gets the lowest address of the range.
  const late = await p.api("POST", "/instance", { username: "late", password: "Busy-Box-123" }, tokens[USERS]);
  assert.equal(late.status, 202, JSON.stringify(late.body));
  const lateJob = await p.waitFinal(late.body.job.id, 120_000, tokens[USERS]);
  assert.equal(resultOf(lateJob, "instance.deploy").ipv4, "172.30.0.40");
});

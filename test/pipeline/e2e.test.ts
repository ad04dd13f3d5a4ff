import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { resultOf } from "../support/api";
import { Pipeline } from "../support/pipeline";

let p: Pipeline;
before(async () => {
  p = await Pipeline.start();
});
after(() => p?.close());

test("the host reports its agent, LXD version and facts", async () => {
  await p.until(async () => (await p.hostRow()).facts !== null, 20_000, "facts");
  const host = await p.hostRow();
  assert.equal(host.state, "online");
  assert.ok(host.agentVersion);
  assert.match(host.lxdVersion ?? "", /^\d+\./);
  assert.equal(host.degradedReason, null);
  assert.ok(host.facts && host.facts.cpus >= 1);
  assert.ok(host.facts.memoryBytes > 0);
});

test("create, stop and delete a container through API → RabbitMQ → gateway → agent → LXD", async () => {
  const name = `kws-e2e-${Date.now().toString(36)}`;
  const ipv4 = `172.30.0.${180 + Math.floor(Math.random() * 15)}`;

  const create = await p.submit("instance.create", { name, image: "kws/busybox", ipv4Address: ipv4 });
  assert.equal(create.status, "queued");
  const createEvents = await p.jobEvents(create.id);
  const created = await p.waitFinal(create.id);
  assert.equal(created.status, "succeeded", JSON.stringify(created.error));
  assert.deepEqual(
    created.steps.map((s) => s.step),
    ["create", "start", "network"],
  );
  assert.equal(resultOf(created, "instance.create").name, name);
  assert.equal(resultOf(created, "instance.create").ipv4, ipv4);
  // The SSE stream delivered each step, then the end with the final job.
  assert.deepEqual(
    createEvents.filter((e) => e.event === "step").map((e) => e.data.step),
    ["create", "start", "network"],
  );
  const last = createEvents.at(-1);
  assert.equal(last?.event, "end");
  assert.equal(last.data.status, "succeeded");

  // Checked on the LXD socket directly: it exists, runs, and has the address.
  const instance = await p.lxd.getInstance(name);
  assert.ok(instance, "the container exists in LXD");
  const state = await p.lxd.getInstanceState(name);
  assert.equal(state.status, "Running");
  const exec = await p.lxd.exec(name, { command: ["/bin/busybox", "ip", "-4", "addr", "show", "eth0"] });
  assert.match(exec.stdout, new RegExp(ipv4.replace(/\./g, "\\.")));

  const again = await p.waitFinal((await p.submit("instance.create", { name, image: "kws/busybox", ipv4Address: ipv4 })).id);
  assert.equal(again.status, "succeeded", "creating it again is a no-op");
  assert.equal((await p.lxd.listInstances()).filter((i) => i.name === name).length, 1);

  const stop = await p.waitFinal((await p.submit("instance.stop", { name, timeoutSeconds: 20 })).id);
  assert.equal(stop.status, "succeeded", JSON.stringify(stop.error));
  assert.equal((await p.lxd.getInstanceState(name)).status, "Stopped");

  const del = await p.submit("instance.delete", { name });
  const delEvents = await p.jobEvents(del.id);
  const deleted = await p.waitFinal(del.id);
  assert.equal(deleted.status, "succeeded");
  assert.equal(resultOf(deleted, "instance.delete").deleted, true);
  assert.equal(await p.lxd.getInstance(name), undefined, "gone from LXD");
  assert.equal(delEvents.at(-1)?.event, "end");
});

test("an LXD error becomes the job's error with LXD's own message", async () => {
  const job = await p.waitFinal((await p.submit("instance.create", { name: `kws-e2e-noimg-${Date.now().toString(36)}`, image: "kws/no-such-image" })).id);
  assert.equal(job.status, "failed");
  assert.equal(job.error?.code, "lxd_error");
  assert.match(job.error?.message ?? "", /^LXD: /);
});

test("exec runs argv with environment values verbatim", async () => {
  const name = `kws-e2e-exec-${Date.now().toString(36)}`;
  const created = await p.waitFinal((await p.submit("instance.create", { name, image: "kws/busybox" })).id);
  assert.equal(created.status, "succeeded", JSON.stringify(created.error));
  try {
    const value = `it's "quoted"; $(reboot) \`id\` && rm -rf /`;
    const exec = await p.waitFinal((await p.submit("instance.exec", { name, command: ["/bin/sh", "-c", 'echo "$V"'], env: { V: value } })).id);
    assert.equal(exec.status, "succeeded");
    assert.equal(resultOf(exec, "instance.exec").exitCode, 0);
    assert.equal(resultOf(exec, "instance.exec").stdout.trim(), value);
  } finally {
    await p.waitFinal((await p.submit("instance.delete", { name })).id);
  }
  assert.equal(await p.lxd.getInstance(name), undefined);
});

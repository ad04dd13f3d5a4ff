import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { after, afterEach, before, describe, test } from "node:test";
import { Pipeline } from "../support/pipeline";

/**
 * Faults on the real pipeline, each repeated 5 times. After each: every job is final, the
 * container exists exactly when its last create succeeded, and nothing else of ours is in LXD.
 */
const ROUNDS = 5;
const run = Date.now().toString(36);
let p: Pipeline;
const submitted: string[] = [];
const exec = promisify(execFile);

before(async () => {
  p = await Pipeline.start();
});
after(async () => {
  for (const i of await p.lxd.listInstances()) {
    if (i.name.startsWith(`kws-f-${run}`)) await p.lxd.deleteInstance(i.name).catch(() => undefined);
  }
  await p?.close();
});

// A failed round must not leave its container to the next round's consistency check.
const keep = new Set<string>();
afterEach(async () => {
  for (const name of await ourInstances()) {
    if (keep.has(name)) continue;
    await p.lxd.deleteInstance(name).catch(async () => {
    await p.lxd.stopInstance(name, { force: true, timeoutSeconds: 10 }).catch(() => undefined);
      await p.lxd.deleteInstance(name).catch(() => undefined);
    });
  }
});

async function submit(kind: string, payload: Record<string, unknown>, deadlineSeconds?: number) {
  const job = await p.submit(kind, payload, deadlineSeconds);
  submitted.push(job.id);
  return job;
}

/** Waits until the agent has the job; fails if it was already over (the fault would not be mid-job). */
async function untilRunning(jobId: string) {
  const job = await p.waitJob(jobId, (j) => j.status !== "queued", 30_000, "running");
  assert.equal(job.status, "running", "the job was still in flight when the fault came");
}

async function ourInstances(): Promise<string[]> {
  return (await p.lxd.listInstances()).map((i) => i.name).filter((n) => n.startsWith(`kws-f-${run}`));
}

/** Every job final; LXD holds exactly `expected`. */
async function assertConsistent(expected: string[]) {
  for (const id of submitted) {
    const job = await p.job(id);
    assert.ok(job.status === "succeeded" || job.status === "failed", `job ${id} is ${job.status}`);
  }
  assert.deepEqual((await ourInstances()).sort(), [...expected].sort(), "LXD agrees with the jobs: no orphan, no duplicate");
}

/**
 * `redelivered`: the fault must make the job be delivered again (the agent died with it). When the
 * gateway dies instead, the agent may finish and resend its result before the redelivery, which
 * then finds the job final: both are correct.
 */
async function createAndCheck(name: string, interrupt: () => Promise<void>, redelivered: boolean) {
  const job = await submit("instance.create", { name, image: "kws/busybox" });
  await untilRunning(job.id);
  await interrupt();
  const final = await p.waitFinal(job.id);
  assert.equal(final.status, "succeeded", `create after the fault: ${JSON.stringify(final.error)}`);
  if (redelivered) assert.ok(final.attempts >= 2, `delivered ${final.attempts} time(s)`);
  assert.equal((await p.lxd.getInstanceState(name)).status, "Running");
  assert.equal((await ourInstances()).filter((n) => n === name).length, 1);
  return final;
}

async function deleteAndCheck(name: string) {
  const del = await p.waitFinal((await submit("instance.delete", { name })).id);
  assert.equal(del.status, "succeeded", JSON.stringify(del.error));
  assert.equal(await p.lxd.getInstance(name), undefined);
}

describe("SIGKILL the agent mid-job, start it again", () => {
  for (let i = 1; i <= ROUNDS; i++) {
    test(`round ${i}`, async () => {
      const name = `kws-f-${run}-kill-${i}`;
      await createAndCheck(name, async () => {
        await p.agent.stop("SIGKILL");
        p.startAgent();
      }, true);
      await assertConsistent([name]);
      await deleteAndCheck(name);
      await assertConsistent([]);
    });
  }
});

describe("restart the gateway (control-plane process) mid-job", () => {
  for (let i = 1; i <= ROUNDS; i++) {
    test(`round ${i}`, async () => {
      const name = `kws-f-${run}-gw-${i}`;
      await createAndCheck(name, async () => {
        await p.controlPlane.stop("SIGKILL");
        await p.startControlPlane();
      }, false);
      await assertConsistent([name]);
      await deleteAndCheck(name);
      await assertConsistent([]);
    });
  }
});

/** Closes the control plane's broker connection from the broker's side. */
async function closeGatewayAmqpConnection() {
  const { stdout } = await exec("rabbitmqctl", ["-q", "list_connections", "pid", "client_properties"]);
  const mine = stdout
    .split("\n")
    .filter((line) => line.includes(`"connection_name","kws pid ${p.controlPlane.pid}"`))
    .map((line) => line.split("\t")[0]!);
  assert.ok(mine.length > 0, "found the gateway's connection at the broker");
  for (const pid of mine) await exec("rabbitmqctl", ["-q", "close_connection", pid, "fault test"]);
}

describe("close the gateway's RabbitMQ connection mid-job", () => {
  // A job that runs for seconds, with a visible side effect: it must happen exactly once per job.
  const name = `kws-f-${run}-amqp`;
  before(async () => {
    keep.add(name);
    const created = await p.waitFinal((await submit("instance.create", { name, image: "kws/busybox" })).id);
    assert.equal(created.status, "succeeded", JSON.stringify(created.error));
  });
  after(async () => {
    keep.delete(name);
    await deleteAndCheck(name);
    await assertConsistent([]);
  });
  for (let i = 1; i <= ROUNDS; i++) {
    test(`round ${i}`, async () => {
      const from = p.controlPlane.lines.length;
      const job = await submit("instance.exec", {
        name,
        command: ["/bin/sh", "-c", 'echo "$ROUND" >> /root/runs; sleep 8'],
        env: { ROUND: String(i) },
      });
      await untilRunning(job.id);
      await closeGatewayAmqpConnection();
      // Submitted while the broker connection is down: its notice may be lost, the job may not.
      const during = await submit("noop", {});
      assert.notEqual((await p.job(job.id)).status, "succeeded", "the fault came while the job ran");
      const final = await p.waitFinal(job.id);
      assert.equal(final.status, "succeeded", JSON.stringify(final.error));
      assert.equal(final.attempts, 1, "the broker carries no jobs: losing it does not touch one in flight");
      assert.equal((await p.waitFinal(during.id)).status, "succeeded");
      await p.controlPlane.waitFor((l) => /reconnect/i.test(String(l.msg)), 20_000, from);
      const runs = await p.lxd.exec(name, { command: ["/bin/cat", "/root/runs"] });
      assert.deepEqual(runs.stdout.trim().split("\n"), Array.from({ length: i }, (_, k) => String(k + 1)), "each job ran exactly once");
      await assertConsistent([name]);
    });
  }
});

describe("keep the host offline past the job's deadline", () => {
  for (let i = 1; i <= ROUNDS; i++) {
    test(`round ${i}`, async () => {
      const name = `kws-f-${run}-late-${i}`;
      await p.agent.stop("SIGTERM");
      await p.until(async () => (await p.hostRow()).state === "offline", 10_000, "host offline");
      const job = await submit("instance.create", { name, image: "kws/busybox" }, 2);
      const failed = await p.waitFinal(job.id, 20_000);
      assert.equal(failed.status, "failed");
      assert.equal(failed.error?.code, "deadline_passed");
      assert.match(failed.error?.message ?? "", new RegExp(`host ${p.host.name} offline for \\d+ s`));
      p.startAgent();
      await p.waitHostOnline();
      // The message still in the queue is delivered now and must not do the work.
      const probe = await p.waitFinal((await submit("noop", {})).id);
      assert.equal(probe.status, "succeeded");
      assert.equal((await p.job(job.id)).status, "failed", "the outcome stays");
      await assertConsistent([]);
    });
  }
});

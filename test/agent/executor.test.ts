/**
 * The executor with the real handlers against the real LXD daemon and the kws/busybox image
 * (scripts/host-setup.sh makes both). Without a daemon the LXD tests fail on purpose.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../shared/logger";
import type { Command } from "../../shared/protocol/messages";
import { Executor } from "../../agent/executor";
import type { LxdAccess, ProgressBody } from "../../agent/executor";
import { Journal } from "../../agent/journal";
import type { ResultBody } from "../../agent/journal";
import { createHandlers } from "../../agent/handlers";
import { LxdClient } from "../../agent/lxd/client";
import { findLxdSocket } from "../../agent/lxd/socket";

const IMAGE = "kws/busybox";
const suffix = randomBytes(4).toString("hex");
const names = {
  twice: `kws-t-${suffix}-a`,
  crashed: `kws-t-${suffix}-b`,
  inflight: `kws-t-${suffix}-c`,
  duplicate: `kws-t-${suffix}-d`,
  serial: `kws-t-${suffix}-e`,
};
// Picked in `before` from 172.30.0.200-229, skipping addresses that LXD's DHCP already hands out.
const addresses: string[] = [];
function address(i: number): string {
  const found = addresses[i];
  assert.ok(found, "no free address left in 172.30.0.200-229");
  return found;
}
const nasty = `it's "quoted"; $(echo injected) \`id\` && echo pwned | cat; rm -rf / #\nsecond line`;

const stateDir = mkdtempSync(join(tmpdir(), "kws-executor-"));
const logger = createLogger({ test: "executor" }, { level: "warn", write: () => {} });

type Sent = ProgressBody | ResultBody;

async function until(probe: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

class Harness {
  readonly sent: Sent[] = [];
  readonly journal: Journal;
  readonly executor: Executor;
  private waiters: (() => void)[] = [];

  constructor(lxd: () => LxdAccess, drainTimeoutMs = 5000) {
    const path = join(stateDir, `journal-${randomUUID()}.jsonl`);
    this.journal = new Journal({ path, logger });
    this.executor = new Executor({
      journal: this.journal,
      handlers: createHandlers({ stateDir, storagePool: "default", addressTimeoutMs: 20_000 }),
      lxd,
      send: (m) => {
        this.sent.push(m);
        for (const w of this.waiters.splice(0)) w();
      },
      logger,
      drainTimeoutMs,
    });
  }

  async start(): Promise<this> {
    await this.journal.start();
    this.executor.start();
    return this;
  }

  results(jobId: string): ResultBody[] {
    return this.sent.filter((m): m is ResultBody => m.type === "result" && m.jobId === jobId);
  }

  progress(jobId: string): ProgressBody[] {
    return this.sent.filter((m): m is ProgressBody => m.type === "progress" && m.jobId === jobId);
  }

  /** The `count`-th result of the job, within `ms`. */
  async result(jobId: string, ms = 45_000, count = 1): Promise<ResultBody> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.results(jobId)[count - 1];
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no result for ${jobId} within ${ms} ms; sent: ${JSON.stringify(this.sent.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async run(kind: string, payload: Record<string, unknown>, overrides: Partial<Command> = {}): Promise<ResultBody> {
    const cmd = command(kind, payload, overrides);
    this.executor.submit(cmd);
    return this.result(cmd.jobId);
  }
}

function command(kind: string, payload: Record<string, unknown>, overrides: Partial<Command> = {}): Command {
  return {
    v: 1,
    id: randomUUID().slice(0, 8),
    type: "command",
    jobId: randomUUID(),
    attempt: 1,
    kind,
    payload,
    deadline: new Date(Date.now() + 120_000).toISOString(),
    ...overrides,
  };
}

function data<T>(result: ResultBody): T {
  assert.equal(result.ok, true, `expected success, got ${JSON.stringify(result)}`);
  return (result as Extract<ResultBody, { ok: true }>).data as T;
}

function error(result: ResultBody): { code: string; message: string } {
  assert.equal(result.ok, false, `expected failure, got ${JSON.stringify(result)}`);
  return (result as Extract<ResultBody, { ok: false }>).error;
}

type Summary = { name: string; status: string; ipv4: string | null };

after(() => rmSync(stateDir, { recursive: true, force: true }));

describe("executor without LXD (degraded)", () => {
  const reason = "LXD is not available: no LXD socket found (tried /nonexistent/lxd.socket)";
  let h: Harness;
  before(async () => {
    h = await new Harness(() => ({ reason })).start();
  });

  test("an LXD command fails at once with lxd_unavailable and the reason", async () => {
    const started = Date.now();
    const result = await h.run("instance.create", { name: "kws-t-degraded", image: IMAGE });
    assert.deepEqual(error(result), { code: "lxd_unavailable", message: reason });
    assert.ok(Date.now() - started < 1000, "no waiting for a daemon that is not there");
  });

  test("noop and host.facts still work, with no instances", async () => {
    data(await h.run("noop", {}));
    const facts = data<{ cpus: number; memoryBytes: number; diskFreeBytes: number; instances: number; runningInstances: number }>(
      await h.run("host.facts", {}),
    );
    assert.ok(facts.cpus > 0 && facts.memoryBytes > 0 && facts.diskFreeBytes > 0);
    assert.equal(facts.instances, 0);
    assert.equal(facts.runningInstances, 0);
  });

  test("invalid payload, unknown kind and a passed deadline are refused without running", async () => {
    const invalid = error(await h.run("instance.create", { name: "bad name!", image: IMAGE, extra: 1 }));
    assert.equal(invalid.code, "invalid_payload");
    assert.match(invalid.message, /name/);
    assert.equal(error(await h.run("instance.frobnicate", {})).code, "unknown_command");
    const late = error(
      await h.run("instance.create", { name: "kws-t-late", image: IMAGE }, { deadline: new Date(Date.now() - 1000).toISOString() }),
    );
    assert.equal(late.code, "deadline_passed");
  });

  test("after stop() new commands get no answer and are not remembered, so the gateway redelivers them", async () => {
    await h.executor.stop();
    const cmd = command("noop", {});
    h.executor.submit(cmd);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(h.results(cmd.jobId), []);
    assert.equal(h.journal.get(cmd.jobId), undefined);
    await h.journal.stop();
  });
});

describe("executor against the real LXD", () => {
  const socketPath = findLxdSocket({ socketPath: process.env.LXD_SOCKET });
  const lxd = new LxdClient({ socketPath: socketPath ?? "/var/lib/lxd/unix.socket" });
  let version = "";
  let h: Harness;

  before(async () => {
    version = (await lxd.serverInfo()).serverVersion;
    const taken = new Set((await lxd.listNetworkLeases("lxdbr0")).map((l) => l.address));
    const start = randomInt(30);
    for (let i = 0; i < 30 && addresses.length < 4; i++) {
      const candidate = `172.30.0.${200 + ((start + i) % 30)}`;
      if (!taken.has(candidate)) addresses.push(candidate);
    }
    h = await new Harness(() => ({ client: lxd, version })).start();
  });

  after(async () => {
    await h?.executor.stop();
    await h?.journal.stop();
    await Promise.all(
      Object.values(names).map(async (name) => {
        const left = await lxd.getInstance(name).catch(() => undefined);
        if (!left) return;
        if (left.status !== "Stopped") await lxd.stopInstance(name, { force: true, timeoutSeconds: 10 }).catch(() => {});
        await lxd.deleteInstance(name).catch(() => {});
      }),
    );
  });

  test("LXD answers (run scripts/host-setup.sh as root if not)", () => {
    assert.ok(socketPath, "no LXD socket found");
    assert.ok(version);
  });

  test("create twice makes one running container with its address; a redelivery is answered from the journal", async () => {
    const payload = { name: names.twice, image: IMAGE, ipv4Address: address(0), config: { "limits.memory": "128MB" } };
    const first = command("instance.create", payload);
    h.executor.submit(first);
    const summary = data<Summary>(await h.result(first.jobId));
    assert.deepEqual(summary, { name: names.twice, status: "Running", ipv4: address(0) });
    assert.deepEqual(
      h.progress(first.jobId).map((p) => p.step),
      ["create", "start", "network"],
    );

    const second = data<Summary>(await h.run("instance.create", payload));
    assert.equal(second.status, "Running");
    const instances = (await lxd.listInstances()).filter((i) => i.name === names.twice);
    assert.equal(instances.length, 1);
    assert.equal(instances[0]?.config["limits.memory"], "128MB");

    const progressBefore = h.progress(first.jobId).length;
    h.executor.submit({ ...first, attempt: 2 });
    const again = await h.result(first.jobId, 5000, 2);
    assert.deepEqual(again, await h.result(first.jobId));
    assert.equal(h.progress(first.jobId).length, progressBefore, "nothing was redone");
  });

  test("exec passes argv and env values verbatim, never through a shell", async () => {
    // busybox has no printenv: env lists everything, the value must appear exactly once, intact.
    const env = data<{ exitCode: number; stdout: string; stderr: string }>(
      await h.run("instance.exec", { name: names.twice, command: ["env"], env: { NASTY: nasty, OTHER: "$(id)" } }),
    );
    assert.equal(env.exitCode, 0);
    assert.equal(env.stderr, "");
    assert.ok(env.stdout.includes(`\nNASTY=${nasty}\n`) || env.stdout.startsWith(`NASTY=${nasty}\n`), env.stdout);
    assert.match(env.stdout, /^OTHER=\$\(id\)$/m);
    const argv = data<{ exitCode: number; stdout: string }>(
      await h.run("instance.exec", { name: names.twice, command: ["echo", nasty] }),
    );
    assert.equal(argv.stdout, `${nasty}\n`);
    const failing = data<{ exitCode: number; stderr: string }>(
      await h.run("instance.exec", { name: names.twice, command: ["sh", "-c", 'echo "$0" >&2; exit 3', "to stderr"] }),
    );
    assert.equal(failing.exitCode, 3);
    assert.equal(failing.stderr, "to stderr\n");
  });

  test("create after a crash (the container exists but is stopped) starts it", async () => {
    await lxd.createInstance({
      name: names.crashed,
      image: IMAGE,
      devices: { eth0: { type: "nic", name: "eth0", network: "lxdbr0", "ipv4.address": address(1) }, root: { type: "disk", path: "/", pool: "default" } },
    });
    assert.equal((await lxd.getInstanceState(names.crashed)).status, "Stopped");
    const result = await h.run("instance.create", { name: names.crashed, image: IMAGE, ipv4Address: address(1) });
    assert.deepEqual(data<Summary>(result), { name: names.crashed, status: "Running", ipv4: address(1) });
    assert.match(h.progress(result.jobId)[0]?.message ?? "", /already exists/);
  });

  test("create waits for an LXD operation on the instance that is still running", async () => {
    const started = await lxd.request("POST", "/1.0/instances", {
      name: names.inflight,
      type: "container",
      source: { type: "image", alias: IMAGE },
      devices: { eth0: { type: "nic", name: "eth0", network: "lxdbr0", "ipv4.address": address(2) } },
    });
    assert.equal(started.type, "async");
    const result = await h.run("instance.create", { name: names.inflight, image: IMAGE, ipv4Address: address(2) });
    assert.deepEqual(data<Summary>(result), { name: names.inflight, status: "Running", ipv4: address(2) });
    assert.ok(
      h.progress(result.jobId).some((p) => p.message.includes("waiting for LXD to finish")),
      JSON.stringify(h.progress(result.jobId)),
    );
  });

  test("a duplicate delivery while the job runs is ignored: it runs once and answers once", async () => {
    const cmd = command("instance.create", { name: names.duplicate, image: IMAGE, start: false });
    h.executor.submit(cmd);
    h.executor.submit({ ...cmd, attempt: 2 });
    assert.equal(data<Summary>(await h.result(cmd.jobId)).status, "Stopped");
    // Nothing more arrives: one result and one create step.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(h.results(cmd.jobId).length, 1);
    assert.deepEqual(
      h.progress(cmd.jobId).map((p) => p.step),
      ["create"],
    );
  });

  test("jobs naming the same instance run one after another", async () => {
    const create = command("instance.create", { name: names.serial, image: IMAGE, ipv4Address: address(3) });
    const exec = command("instance.exec", { name: names.serial, command: ["cat", "/etc/hostname"] });
    h.executor.submit(create);
    h.executor.submit(exec);
    data(await h.result(create.jobId));
    assert.equal(data<{ stdout: string }>(await h.result(exec.jobId)).stdout.trim().length > 0, true);
  });

  test("stop then delete twice: the second delete says deleted:false", async () => {
    const stopped = data<Summary>(await h.run("instance.stop", { name: names.serial, force: true, timeoutSeconds: 5 }));
    assert.equal(stopped.status, "Stopped");
    const started = data<Summary>(await h.run("instance.start", { name: names.serial }));
    assert.equal(started.status, "Running");

    assert.deepEqual(data(await h.run("instance.delete", { name: names.serial })), { name: names.serial, deleted: true });
    assert.deepEqual(data(await h.run("instance.delete", { name: names.serial })), { name: names.serial, deleted: false });
    assert.equal(await lxd.getInstance(names.serial), undefined);
  });

  test("an LXD error keeps LXD's own message", async () => {
    const result = error(await h.run("instance.start", { name: `kws-t-${suffix}-missing` }));
    assert.equal(result.code, "lxd_error");
    assert.match(result.message, /^LXD: .*not found/i);
  });

  test("stop() lets running work finish within the bound and abandons the rest unreported", async () => {
    const draining = await new Harness(() => ({ client: lxd, version }), 1500).start();
    const short = command("instance.exec", { name: names.twice, command: ["sleep", "0.5"] });
    const long = command("instance.exec", { name: names.crashed, command: ["sleep", "5"] });
    draining.executor.submit(short);
    draining.executor.submit(long);
    await until(() => draining.progress(long.jobId).length > 0 && draining.progress(short.jobId).length > 0);
    const started = Date.now();
    const { abandoned } = await draining.executor.stop();
    assert.ok(Date.now() - started < 2500, "bounded");
    assert.deepEqual(abandoned, [long.jobId]);
    assert.equal(data<{ exitCode: number }>(await draining.result(short.jobId, 100)).exitCode, 0);
    assert.deepEqual(draining.results(long.jobId), [], "no result: the gateway redelivers it");
    assert.equal(draining.journal.get(long.jobId), undefined);
    await draining.journal.stop();
  });

  test("host.facts counts the instances", async () => {
    const facts = data<{ instances: number; runningInstances: number; diskFreeBytes: number }>(await h.run("host.facts", {}));
    assert.ok(facts.instances >= 3 && facts.runningInstances >= 2, JSON.stringify(facts));
    assert.ok(facts.diskFreeBytes > 0);
  });
});

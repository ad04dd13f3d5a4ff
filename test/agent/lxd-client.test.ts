/**
 * LxdClient against the real LXD daemon and the kws/busybox image (scripts/host-setup.sh makes both).
 * Without a daemon this file fails on purpose: the agent cannot work without LXD.
 */
import { test, describe, beforeEach, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes, randomInt } from "node:crypto";
import { LxdClient } from "../../agent/lxd/client";
import { LxdError, LxdUnavailableError } from "../../agent/lxd/errors";
import { DEFAULT_LXD_SOCKETS, findLxdSocket, requireLxdSocket } from "../../agent/lxd/socket";

const IMAGE = "kws/busybox";
const suffix = randomBytes(4).toString("hex");
const name = `kws-test-${suffix}`;
// Spread over a few addresses so parallel runs on one host rarely ask for the same reservation.
const address = `172.30.0.${230 + randomInt(24)}`;
// Quotes, semicolons, command substitution, backticks, a newline: all must arrive verbatim.
const nasty = `it's "quoted"; $(echo injected) \`id\` && echo pwned | cat\nsecond line`;

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("socket discovery", () => {
  test("LXD_SOCKET wins when it exists, missing paths are skipped", () => {
    const found = findLxdSocket();
    if (found) assert.equal(findLxdSocket({ socketPath: found, candidates: [] }), found);
    assert.equal(findLxdSocket({ socketPath: "/nonexistent/lxd.socket", candidates: ["/nonexistent/b"] }), undefined);
    assert.equal(findLxdSocket({ socketPath: "/etc/hostname", candidates: [] }), undefined, "a plain file is no socket");
  });

  test("requireLxdSocket names what it tried and how to fix it", () => {
    assert.throws(
      () => requireLxdSocket({ socketPath: "/nonexistent/lxd.socket", candidates: ["/nonexistent/b"] }),
      (err: unknown) =>
        err instanceof LxdUnavailableError &&
        err.message.includes("LXD_SOCKET=/nonexistent/lxd.socket") &&
        err.message.includes("scripts/host-setup.sh"),
    );
  });

  test("a missing socket is LxdUnavailableError, not a raw ENOENT", async () => {
    const client = new LxdClient({ socketPath: "/nonexistent/lxd.socket" });
    await assert.rejects(client.serverInfo(), (err: unknown) => {
      assert.ok(err instanceof LxdUnavailableError);
      assert.match(err.message, /does not exist/);
      assert.match(err.message, /host-setup\.sh/);
      return true;
    });
  });
});

describe("LxdClient against the real daemon", () => {
  let lxd: LxdClient;
  let importedFingerprint: string | undefined;
  const testAlias = `kws-test/${suffix}`;

  // Asserted per test (a failing `before` only cancels tests in Node 20): each one fails, none is skipped.
  beforeEach(() => {
    const socketPath = findLxdSocket({ socketPath: process.env.LXD_SOCKET });
    assert.ok(
      socketPath,
      `no LXD socket found (LXD_SOCKET=${process.env.LXD_SOCKET ?? "unset"}, ${DEFAULT_LXD_SOCKETS.join(", ")}): ` +
        "run scripts/host-setup.sh as root, or set LXD_SOCKET",
    );
    lxd = new LxdClient({ socketPath });
  });

  after(async () => {
    if (!lxd) return;
    const left = await lxd.getInstance(name).catch(() => undefined);
    if (left) {
      if (left.status !== "Stopped") await lxd.stopInstance(name, { force: true, timeoutSeconds: 10 }).catch(() => {});
      await lxd.deleteInstance(name).catch(() => {});
    }
    await lxd.request("DELETE", `/1.0/images/aliases/${encodeURIComponent(testAlias)}`).catch(() => {});
    if (importedFingerprint) await lxd.request("DELETE", `/1.0/images/${importedFingerprint}`).catch(() => {});
  });

  test("server info, pool, network and image alias are there", async () => {
    assert.ok(await lxd.imageAliasExists(IMAGE), `image ${IMAGE} is missing: run scripts/host-setup.sh`);
    const info = await lxd.serverInfo();
    assert.equal(info.apiVersion, "1.0");
    assert.ok(info.serverVersion.length > 0);
    assert.ok(info.apiExtensions.includes("container_exec_recording"));

    const pools = await lxd.listStoragePools();
    assert.ok(pools.some((p) => p.name === "default"));
    assert.equal((await lxd.getStoragePool("default"))?.name, "default");
    assert.equal(await lxd.getStoragePool(`missing-${suffix}`), undefined);

    const net = await lxd.getNetwork("lxdbr0");
    assert.equal(net?.managed, true);
    assert.equal(net?.config["ipv4.address"], "172.30.0.1/24");
    assert.equal(await lxd.getNetwork(`missing-${suffix}`), undefined);

    assert.ok((await lxd.listImageAliases()).some((a) => a.name === IMAGE));
    assert.equal(await lxd.imageAliasExists(`missing/${suffix}`), false);
  });

  test("importImage + createImageAlias", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kws-lxd-image-"));
    try {
      mkdirSync(join(dir, "rootfs/bin"), { recursive: true });
      copyFileSync("/bin/busybox", join(dir, "rootfs/bin/busybox"));
      writeFileSync(
        join(dir, "metadata.yaml"),
        `architecture: x86_64\ncreation_date: ${Math.floor(Date.now() / 1000)}\n` +
          `properties:\n  description: kws lxd-client test ${suffix}\n  os: busybox\n`,
      );
      execFileSync("tar", ["-C", dir, "-czf", join(dir, "image.tar.gz"), "metadata.yaml", "rootfs"]);
      const fingerprint = await lxd.importImage(readFileSync(join(dir, "image.tar.gz")));
      importedFingerprint = fingerprint;
      assert.match(fingerprint, /^[0-9a-f]{64}$/);
      await lxd.createImageAlias(testAlias, fingerprint);
      assert.equal(await lxd.imageAliasExists(testAlias), true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("getInstance of a missing name is undefined", async () => {
    assert.equal(await lxd.getInstance(`kws-missing-${suffix}`), undefined);
  });

  test("create with a static address, start, RUNNING with that address", async () => {
    await lxd.createInstance({
      name,
      image: IMAGE,
      config: { "limits.memory": "128MB" },
      devices: { eth0: { type: "nic", network: "lxdbr0", name: "eth0", "ipv4.address": address } },
    });
    const created = await lxd.getInstance(name);
    assert.equal(created?.status, "Stopped");
    assert.equal(created?.devices.eth0?.["ipv4.address"], address);
    assert.ok((await lxd.listInstances()).some((i) => i.name === name));

    await lxd.startInstance(name);
    const state = await until(`${name} to get ${address}`, 20_000, async () => {
      const s = await lxd.getInstanceState(name);
      return s.ipv4.includes(address) ? s : undefined;
    });
    assert.equal(state.status, "Running");
    assert.deepEqual(state.ipv4, [address]);
  });

  test("exec passes env and argv verbatim, never through a shell", async () => {
    // busybox-static has no printenv applet; `env` prints the variable without any shell involved.
    const env = await lxd.exec(name, { command: ["env"], env: { KWS_VALUE: nasty } });
    assert.equal(env.exitCode, 0);
    assert.ok(env.stdout.includes(`KWS_VALUE=${nasty}\n`), env.stdout);

    // A shell expanding "$KWS_VALUE" once must not run what is inside it.
    const viaShell = await lxd.exec(name, { command: ["sh", "-c", 'printf "%s" "$KWS_VALUE"'], env: { KWS_VALUE: nasty } });
    assert.deepEqual(viaShell, { exitCode: 0, stdout: nasty, stderr: "" });

    const viaArgv = await lxd.exec(name, { command: ["echo", nasty] });
    assert.equal(viaArgv.stdout, `${nasty}\n`);

    const asUser = await lxd.exec(name, { command: ["sh", "-c", "id -u; id -g; pwd"], user: 65534, group: 65534, cwd: "/tmp" });
    assert.equal(asUser.stdout, "65534\n65534\n/tmp\n");
  });

  test("exec returns a non-zero exit code with stdout and stderr apart", async () => {
    const r = await lxd.exec(name, { command: ["sh", "-c", "echo to-out; echo to-err >&2; exit 7"] });
    assert.deepEqual(r, { exitCode: 7, stdout: "to-out\n", stderr: "to-err\n" });
  });

  test("exec of a missing command is an LxdError (LXD fails the operation for 127)", async () => {
    await assert.rejects(lxd.exec(name, { command: [`/no/such/command-${suffix}`] }), (err: unknown) => {
      assert.ok(err instanceof LxdError);
      assert.match(err.message, /^LXD: Command not found/);
      return true;
    });
  });

  test("exec output logs are deleted afterwards", async () => {
    const env = await lxd.request<string[]>("GET", `/1.0/instances/${name}/logs`);
    assert.equal(env.type, "sync");
    const logs = env.type === "sync" ? env.metadata : [];
    assert.deepEqual(logs.filter((l) => l.includes("exec")), []);
  });

  test("pushFile then read it back", async () => {
    const content = `hello ${nasty}\nünïcödé\n`;
    await lxd.pushFile(name, "/tmp/kws push.txt", content, { uid: 0, gid: 0, mode: 0o600 });
    const cat = await lxd.exec(name, { command: ["cat", "/tmp/kws push.txt"] });
    assert.equal(cat.stdout, content);
    const stat = await lxd.exec(name, { command: ["stat", "-c", "%a %u %g", "/tmp/kws push.txt"] });
    assert.equal(stat.stdout, "600 0 0\n");

    await lxd.pushFile(name, "/tmp/kws push.txt", Buffer.from([0, 1, 2, 255]), { uid: 65534, gid: 65534, mode: 0o644 });
    const after = await lxd.exec(name, { command: ["sh", "-c", 'od -An -tx1 "/tmp/kws push.txt"; stat -c "%a %u" "/tmp/kws push.txt"'] });
    assert.equal(after.stdout.replace(/\s+/g, " ").trim(), "00 01 02 ff 644 65534");
  });

  test("deleting a running instance is an LxdError carrying LXD's text", async () => {
    await assert.rejects(lxd.deleteInstance(name), (err: unknown) => {
      assert.ok(err instanceof LxdError);
      assert.equal(err.status, 400);
      assert.equal(err.lxdMessage, "Instance is running");
      assert.equal(err.message, "LXD: Instance is running");
      return true;
    });
  });

  test("waiting on an unknown operation is a 404 LxdError", async () => {
    await assert.rejects(lxd.waitOperation("/1.0/operations/00000000-0000-0000-0000-000000000000", 2000), (err: unknown) =>
      err instanceof LxdError && err.status === 404,
    );
  });

  test("stop with a timeout, then delete", async () => {
    await lxd.stopInstance(name, { timeoutSeconds: 15 });
    assert.equal((await lxd.getInstanceState(name)).status, "Stopped");
    await assert.rejects(lxd.exec(name, { command: ["true"] }), (err: unknown) => err instanceof LxdError && err.status === 400);
    await lxd.deleteInstance(name);
    assert.equal(await lxd.getInstance(name), undefined);
  });
});

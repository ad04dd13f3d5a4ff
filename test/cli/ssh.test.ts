/**
 * `kws ssh` and `kws config-ssh` as subprocesses against the real control plane and agent, with a
 * Debian instance in LXD: SSH's bytes go control plane → agent → port 22 (no WireGuard), the CLI's
 * own key logs in without a password, scp through the config block lands a file in the container,
 * and a stopped instance is started first (or refused with --no-start).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import WebSocket from "ws";
import { SSH_PATH } from "../../shared/protocol/cli-streams";
import { bodyAt } from "../support/api";
import { runKws, signedInCli } from "../support/kws-cli";
import { Pipeline } from "../support/pipeline";

let p: Pipeline;
let token: string;
let env: Record<string, string>;
let name: string;
const USER = "ada";

before(async () => {
  p = await Pipeline.start({
    env: { KWS_BRIDGE_RANGE: "172.30.0.220-172.30.0.229", KWS_INSTANCE_IMAGE: "kws/debian-12", KWS_INSTANCE_MEMORY_MB: "1024", KWS_HOST_MEMORY_RESERVE_MB: "512" },
  });
  token = await p.userToken();
  env = await signedInCli(p.url, token);
  name = (await p.deploy(token, { username: USER, password: "Analytical-Engine-1843" }, 240_000)).name;
});

after(async () => {
  if (token) {
    const kill = await p.api("DELETE", "/instance", undefined, token);
    if (kill.status === 202) await p.waitFinal(kill.body.job.id, 120_000, token).catch(() => undefined);
  }
  await p?.close();
});

test("kws ssh -- id -un runs in the instance as its user, logged in with the CLI's own key; the remote exit code comes back", async () => {
  const id = await runKws(["ssh", "--", "id", "-un"], env);
  assert.equal(id.code, 0, id.stderr);
  assert.equal(id.stdout.trim(), USER);
  // The key the CLI made is registered for the person and installed for the instance's user.
  const keys = bodyAt(await p.api("GET", "/ssh-keys", undefined, token), 200).keys;
  assert.equal(keys.length, 1);
  const ownKey = readFileSync(join(env.KWS_CONFIG_DIR!, "id_ed25519.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ");
  assert.equal(keys[0]!.publicKey, ownKey);
  const installed = await p.lxd.exec(name, { command: ["cat", `/home/${USER}/.ssh/authorized_keys`] });
  assert.match(installed.stdout, new RegExp(`^${ownKey.replace(/[+/]/g, "\\$&")} kws-managed$`, "m"));
  // The instance's host key is kept in kws's own known_hosts, under the instance's name.
  const label = new URL(bodyAt(await p.api("GET", "/instance", undefined, token), 200).urls!.ide).hostname.split(".")[0];
  const known = spawnSync("ssh-keygen", ["-F", `kws-${label}`, "-f", join(env.KWS_CONFIG_DIR!, "known_hosts")], { encoding: "utf8" });
  assert.equal(known.status, 0, `kws-${label} is in kws's known_hosts: ${known.stdout}${known.stderr}`);

  // ssh joins the words into one remote command line, as it does for any ssh.
  const failed = await runKws(["ssh", "--", "exit 7"], env);
  assert.equal(failed.code, 7, failed.stderr);
});

test("the ssh websocket takes only a valid token of the instance's owner, and reaches only its port 22", async () => {
  const url = `ws://${new URL(p.url).host}${SSH_PATH}`;
  const status = (headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      ws.once("unexpected-response", (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.once("open", () => {
        resolve(101);
        ws.close();
      });
      ws.on("error", reject);
    });
  assert.equal(await status({}), 401);
  assert.equal(await status({ authorization: "Bearer kws_not_a_token" }), 401);
  // Someone without an instance gets nobody else's.
  assert.equal(await status({ authorization: `Bearer ${await p.userToken()}` }), 404);
  // The owner's bytes reach sshd: its banner is the first thing to come back.
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  const banner = await new Promise<string>((resolve, reject) => ws.once("message", (d) => resolve(String(d))).once("error", reject));
  ws.close();
  assert.match(banner, /^SSH-2\.0-OpenSSH/);
});

test("kws config-ssh writes one marked Host kws block (updated in place, removable) with which scp copies a file into the container", async () => {
  const config = join(env.HOME!, ".ssh", "config");
  const mine = "Host example\n  HostName example.org\n";
  mkdirSync(dirname(config), { recursive: true, mode: 0o700 });
  writeFileSync(config, mine);
  for (let i = 0; i < 2; i++) {
    const written = await runKws(["config-ssh"], env);
    assert.equal(written.code, 0, written.stderr);
  }
  const text = readFileSync(config, "utf8");
  assert.ok(text.startsWith(mine), "the person's own lines stay as they were");
  assert.equal(text.match(/^Host kws$/gm)?.length, 1, "one block, however often it runs");
  assert.match(text, /^ {2}ProxyCommand .* ssh --stdio$/m);

  const file = join(env.HOME!, "hello.txt");
  writeFileSync(file, "copied through kws\n");
  const scp = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn("scp", ["-F", config, file, "kws:/tmp/hello.txt"], { env: { ...process.env, ...env } });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c));
    child.once("close", (code) => resolve({ code, stderr }));
  });
  assert.equal(scp.code, 0, scp.stderr);
  const copied = await p.lxd.exec(name, { command: ["cat", "/tmp/hello.txt"] });
  assert.equal(copied.stdout, "copied through kws\n");

  const removed = await runKws(["config-ssh", "--remove"], env);
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(readFileSync(config, "utf8"), mine);
});

test("a stopped instance is refused with --no-start, and started by kws ssh (through the normal start job)", async () => {
  const stop = await p.waitFinal(bodyAt(await p.api("POST", "/instance/stop", undefined, token), 202).job.id, 120_000, token);
  assert.equal(stop.status, "succeeded", JSON.stringify(stop.error));

  const refused = await runKws(["ssh", "--no-start", "--", "true"], env);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /your instance is stopped \(--no-start\)/);
  assert.equal(bodyAt(await p.api("GET", "/instance", undefined, token), 200).state, "stopped");

  const started = await runKws(["ssh", "--", "id", "-un"], env, { timeoutMs: 240_000 });
  assert.equal(started.code, 0, started.stderr);
  assert.equal(started.stdout.trim(), USER);
  assert.match(started.stderr, /starting your instance/);
  const inst = bodyAt(await p.api("GET", "/instance", undefined, token), 200);
  assert.equal(inst.state, "running");
  assert.equal(inst.job?.kind, "instance.start");
});

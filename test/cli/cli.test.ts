/**
 * The `kws` command line as people and scripts use it: the real CLI as a subprocess against a real
 * control plane and agent (LXD busybox containers, wireguard-go), signing in by a device code that
 * is approved on the dashboard page in Chromium.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { commands } from "../../cli/commands";
import { instanceNameFor } from "../../shared/instances/rules";
import { bodyAt } from "../support/api";
import { launchChromium } from "../support/chromium";
import { startPgCluster, type PgTestCluster } from "../support/pg-cluster";
import { Cli } from "../support/cli";
import type { SignedInAccount } from "../support/log-accounts";
import { sh } from "../support/netns";
import { Pipeline } from "../support/pipeline";
import postgres from "postgres";

const RANGE = "172.30.0.210-172.30.0.219";
const id = Math.random().toString(36).slice(2, 6);
const WG_INTERFACE = `cc${id}`;
const WG_PORT = 53_000 + Math.floor(Math.random() * 1000);
const TUNNEL = `10.214.${10 + Math.floor(Math.random() * 200)}`;

let p: Pipeline;
let account: SignedInAccount;
let browser: Browser;
let dir: string;
let cli: Cli;
let cluster: PgTestCluster;

before(async () => {
  cluster = await startPgCluster();
  p = await Pipeline.start({
    env: { PG_SERVICE_URL: cluster.adminUrl, KWS_BRIDGE_RANGE: RANGE, KWS_INSTANCE_IMAGE: "kws/busybox", KWS_INSTANCE_PROVISION: "false", KWS_INSTANCE_MEMORY_MB: "64" },
    wireguard: { interface: WG_INTERFACE, address: `${TUNNEL}.1/24`, port: WG_PORT, endpoint: `127.0.0.1:${WG_PORT}` },
  });
  await p.until(async () => Boolean((await p.hostRow()).facts?.wireguard), 30_000, "wireguard facts");
  account = await p.account();
  browser = await launchChromium();
  dir = mkdtempSync(join(tmpdir(), "kws-cli-"));
  cli = new Cli(join(dir, "config"));
});

after(async () => {
  const inst = await p?.api("GET", "/instance", undefined, account?.token).catch(() => undefined);
  if (inst?.status === 200 && inst.body.state !== "none") {
    const kill = await p.api("DELETE", "/instance", undefined, account.token);
    if (kill.status === 202) await p.waitFinal(kill.body.job.id, 60_000, account.token).catch(() => undefined);
  }
  await browser?.close();
  await p?.close();
  await cluster?.stop();
  try {
    sh("ip", ["link", "del", WG_INTERFACE]);
  } catch {
    // gone with its agent
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("usage errors exit 2, signed-in commands exit 3 before login, every command's help has examples", async () => {
  for (const args of [["bogus"], ["instance", "deploy", "--bogus"], ["devices", "add"], ["instance", "status", "extra"], ["completion", "fish"]]) {
    const r = await cli.run(args);
    assert.equal(r.code, 2, `kws ${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /--help/, "says where to read how it is used");
  }
  const status = await cli.run(["instance", "status"]);
  assert.equal(status.code, 3);
  assert.match(status.stderr, /not signed in[\s\S]*kws login/, "says what to do next");
  const whoami = await cli.json(["whoami"]);
  assert.equal(whoami.code, 3);
  assert.equal(whoami.body.error.exitCode, 3, "--json reports the error as JSON on stderr");

  const help = await cli.run(["instance", "deploy", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: kws instance deploy[\s\S]*Examples:\n  # .+\n  kws instance deploy --wait/);
  const top = await cli.run(["--help"]);
  assert.equal(top.code, 0);
  for (const c of commands) {
    assert.ok(c.examples.length > 0 && c.examples.every(([line]) => line.includes(`kws ${c.path.join(" ")}`)), `kws ${c.path.join(" ")} has examples of itself`);
    assert.ok(top.stdout.includes(c.path.join(" ")), `the top help lists ${c.path.join(" ")}`);
  }
});

test("kws login: the code shown is approved on /kws_device in Chromium; the token is kept 0600; whoami", async () => {
  const login = cli.start(["login", p.url]);
  const [, pageUrl] = await login.waitFor(/open (\S+)\n/);
  const [, code] = await login.waitFor(/shows the code ([A-Z]{4}-[A-Z]{4})/);
  assert.equal(pageUrl, `${p.url}/kws_device?code=${code}`);

  const page = await browser.newPage();
  await page.goto(pageUrl!);
  await page.waitForURL(/\/kws_signin\?next=/);
  await page.fill("#username", account.username);
  await page.fill("#password", account.password);
  await page.click("button[type=submit]");
  await page.waitForURL(`${p.url}/kws_device?code=${code}`);
  assert.equal(await page.textContent("[data-testid=device-code]"), code, "the page shows the same code");
  await page.click("[data-testid=device-approve]");
  assert.match((await page.textContent("[data-testid=device-decided]")) ?? "", /Approved/);
  await page.close();

  const done = await login.done;
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stdout, new RegExp(`Signed in to ${p.url} as ${account.username}`));
  const configFile = join(cli.configDir, "config.json");
  assert.equal(statSync(configFile).mode & 0o777, 0o600);
  assert.equal(statSync(cli.configDir).mode & 0o777, 0o700);
  const saved = JSON.parse(readFileSync(configFile, "utf8"));
  assert.equal(saved.url, p.url);
  assert.equal(bodyAt(await p.api("GET", "/me", undefined, saved.token), 200).user.username, account.username, "the kept token is the person's");

  const whoami = await cli.json(["whoami"]);
  assert.equal(whoami.code, 0);
  assert.equal(whoami.body.user.username, account.username);
  assert.equal(whoami.body.url, p.url);
});

test("instance deploy --wait shows its steps; status, stop, start, apps publish/list/remove, kill with --json; LXD agrees", async () => {
  const me = (await cli.json(["whoami"])).body;
  const container = instanceNameFor(me.user.id);

  const deploy = await cli.run(["instance", "deploy", "--username", "ada", "--wait"]);
  assert.equal(deploy.code, 0, deploy.stderr);
  const password = deploy.stdout.match(/the password (\S+) /)?.[1];
  assert.ok(password, `a generated password is shown:\n${deploy.stdout}`);
  const lines = deploy.stdout.split("\n");
  assert.ok(lines.indexOf("Deploy done.") > 2, `plain step lines come before the end (not a terminal):\n${deploy.stdout}`);
  assert.ok(!deploy.stdout.includes("\x1b["), "no terminal control codes when piped");
  assert.match(deploy.stdout, /state: +running/);

  const status = await cli.json(["instance", "status"]);
  assert.equal(status.code, 0);
  assert.equal(status.body.state, "running");
  assert.equal(status.body.username, "ada");
  assert.match(status.body.ip, /^172\.30\.0\.21\d$/);
  assert.equal((await p.lxd.getInstanceState(container)).status, "Running");
  assert.equal((await cli.json(["instance", "password"])).body.password, password, "`kws instance password` shows it again");

  const stop = await cli.json(["instance", "stop", "--wait"]);
  assert.equal(stop.code, 0, JSON.stringify(stop.body));
  assert.equal(stop.body.job.status, "succeeded");
  assert.equal(stop.body.instance.state, "stopped");
  assert.equal((await p.lxd.getInstanceState(container)).status, "Stopped");

  const start = await cli.json(["instance", "start", "--wait"]);
  assert.equal(start.code, 0, JSON.stringify(start.body));
  assert.equal(start.body.instance.state, "running");
  assert.equal((await p.lxd.getInstanceState(container)).status, "Running");

  const app = `cc-${id}`;
  const published = await cli.json(["apps", "publish", "8080", "--name", app, "--access", "public"]);
  assert.equal(published.code, 0, JSON.stringify(published.body));
  assert.equal(published.body.app.access, "public");
  assert.match(published.body.app.url, new RegExp(`^http://${app}\\.`));
  assert.deepEqual((await cli.json(["apps", "list"])).body.apps.map((a: { name: string; port: number }) => [a.name, a.port]), [[app, 8080]]);
  assert.equal((await cli.run(["apps", "publish", "8080", "--name", app, "--access", "everyone"])).code, 2, "an access level that is not one: usage");
  assert.equal((await cli.run(["apps", "remove", app])).code, 0);
  assert.deepEqual((await cli.json(["apps", "list"])).body.apps, []);

  const unconfirmed = await cli.run(["instance", "kill", "--wait"]);
  assert.equal(unconfirmed.code, 2, "no terminal to ask on and no --yes: refused");
  assert.match(unconfirmed.stderr, /--yes/);
  assert.equal((await cli.json(["instance", "status"])).body.state, "running");

  const kill = await cli.json(["instance", "kill", "--yes", "--wait"]);
  assert.equal(kill.code, 0, JSON.stringify(kill.body));
  assert.equal(kill.body.instance.state, "none");
  assert.equal(await p.lxd.getInstance(container), undefined, "the container is gone");

  const again = await cli.run(["instance", "stop"]);
  assert.equal(again.code, 1, "a failure the API refused exits 1");
  assert.match(again.stderr, /no instance/i);
});

test("devices add writes a 0600 config with a locally made key whose public half the API lists; list and remove", async () => {
  const out = join(dir, "laptop.conf");
  const add = await cli.json(["devices", "add", "laptop", "--out", out]);
  assert.equal(add.code, 0, JSON.stringify(add.body));
  assert.equal(add.body.file, out);
  assert.equal(statSync(out).mode & 0o777, 0o600);
  const conf = readFileSync(out, "utf8");
  const privateKey = conf.match(/^PrivateKey = (\S+)$/m)?.[1];
  assert.ok(privateKey, conf);
  const publicKey = execFileSync("wg", ["pubkey"], { input: `${privateKey}\n`, encoding: "utf8" }).trim();

  const listed = await cli.json(["devices", "list"]);
  assert.equal(listed.code, 0);
  assert.deepEqual(
    listed.body.devices.map((d: { name: string; publicKey: string; state: string }) => [d.name, d.publicKey, d.state]),
    [["laptop", publicKey, "active"]],
    "the API knows the public key of the private key in the file",
  );
  assert.ok(!JSON.stringify(listed.body).includes(privateKey), "the private key never reached the API");
  assert.ok(sh("wg", ["show", WG_INTERFACE, "peers"]).includes(publicKey), "the host has the peer");

  const exists = await cli.run(["devices", "add", "phone", "--out", out]);
  assert.equal(exists.code, 1, "an existing file is never overwritten");
  assert.match(exists.stderr, /exists[\s\S]*--out/);
  assert.equal((await cli.json(["devices", "list"])).body.devices.length, 1, "and no device was registered for it");

  const remove = await cli.run(["devices", "remove", "laptop"]);
  assert.equal(remove.code, 0, remove.stderr);
  assert.deepEqual((await cli.json(["devices", "list"])).body.devices, []);
});

test("pg users and databases: create, list, the password works on the cluster, delete", async () => {
  const user = `cc_${id}`;
  const created = await cli.json(["pg", "users", "create", user]);
  assert.equal(created.code, 0, JSON.stringify(created.body));
  assert.equal(created.body.user.name, user);
  const database = await cli.json(["pg", "databases", "create", `${user}_db`, "--owner", user]);
  assert.equal(database.code, 0, JSON.stringify(database.body));
  assert.equal((await cli.run(["pg", "databases", "create", `${user}_x`])).code, 2, "--owner is required");
  assert.deepEqual((await cli.json(["pg", "users", "list"])).body.users.map((u: { name: string; databases: string[] }) => [u.name, u.databases]), [[user, [`${user}_db`]]]);
  assert.deepEqual((await cli.json(["pg", "databases", "list"])).body.databases.map((d: { name: string; owner: string }) => [d.name, d.owner]), [[`${user}_db`, user]]);

  const shown = await cli.json(["pg", "password", user]);
  assert.equal(shown.body.password, created.body.password, "`kws pg password` shows the same password");
  const sql = postgres(cluster.url(user, shown.body.password, `${user}_db`), { max: 1 });
  try {
    assert.equal((await sql`select current_user as u`)[0]?.u, user, "and it signs in on the cluster");
  } finally {
    await sql.end();
  }

  assert.equal((await cli.run(["pg", "databases", "delete", `${user}_db`])).code, 2, "no terminal to ask on and no --yes");
  assert.equal((await cli.run(["pg", "databases", "delete", `${user}_db`, "--yes"])).code, 0);
  assert.equal((await cli.run(["pg", "users", "delete", user, "--yes"])).code, 0);
  assert.deepEqual((await cli.json(["pg", "users", "list"])).body.users, []);
});

test("completion scripts are valid and complete words and options", async () => {
  const bash = await cli.run(["completion", "bash"]);
  assert.equal(bash.code, 0);
  const script = join(dir, "kws.bash");
  execFileSync("sh", ["-c", `cat > ${script}`], { input: bash.stdout });
  execFileSync("bash", ["-n", script]);
  const complete = (line: string) =>
    execFileSync("bash", ["-c", `source ${script}; COMP_WORDS=(${line}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _kws; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .sort();
  assert.deepEqual(complete("kws inst"), ["instance"]);
  assert.deepEqual(complete("kws instance st"), ["start", "status", "stop"]);
  assert.deepEqual(complete("kws --json pg users ''"), ["create", "delete", "list"]);
  assert.ok(complete("kws devices add laptop --").includes("--qr"));

  const zsh = await cli.json(["completion", "zsh"]);
  assert.equal(zsh.code, 0);
  assert.match(zsh.body.script, /^#compdef kws/);
});

test("kws logout revokes the token on the server and forgets it", async () => {
  const token = JSON.parse(readFileSync(join(cli.configDir, "config.json"), "utf8")).token;
  const out = await cli.json(["logout"]);
  assert.equal(out.code, 0);
  assert.equal(out.body.revoked, true);
  assert.equal((await p.api("GET", "/me", undefined, token)).status, 401, "revoked on the server");
  assert.equal((await cli.run(["whoami"])).code, 3, "and forgotten here");
  assert.equal((await cli.run(["logout"])).code, 3);

  const piped = await cli.run(["login", p.url, "--token"], `${account.token}\n`);
  assert.equal(piped.code, 0, piped.stderr);
  assert.equal((await cli.json(["whoami"])).body.user.username, account.username, "kws login --token reads a token from stdin");
});

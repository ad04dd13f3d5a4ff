import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { bodyAt, resultOf, type ApiMethod } from "../support/api";
import { Pipeline } from "../support/pipeline";
import { answers, ideLogin, sshRun } from "../support/instance-checks";

// Addresses of their own: test files run two at a time on one LXD bridge.
const RANGE = { first: "172.30.0.20", second: "172.30.0.21" };

let p: Pipeline;
let token: string;
before(async () => {
  p = await Pipeline.start({
    env: { KWS_BRIDGE_RANGE: `${RANGE.first}-172.30.0.29`, KWS_INSTANCE_IMAGE: "kws/debian-12", KWS_INSTANCE_MEMORY_MB: "1500", KWS_HOST_MEMORY_RESERVE_MB: "512" },
  });
  await p.until(async () => (await p.hostRow()).facts !== null, 20_000, "facts");
  token = await p.userToken();
});
after(async () => {
  // Whatever a failed assertion left: the user's container goes with the host's instances.
  const inst = await p?.api("GET", "/instance", undefined, token).catch(() => undefined);
  if (inst?.status === 200 && inst.body.state !== "none") {
    const kill = await p.api("DELETE", "/instance", undefined, token);
    if (kill.status === 202) await p.waitFinal(kill.body.job.id, 120_000, token).catch(() => undefined);
  }
  await p?.close();
});

const api = <M extends ApiMethod, P extends string>(method: M, path: P, body?: unknown) => p.api(method, path, body, token);

// Every character the issue names that a shell would act on; passwords may hold them (not newlines).
const PASSWORD = `Pa ss'w"d;$(touch /tmp/pwned)\`touch /tmp/pwned2\`-1`;

test("bad logins are refused with the field and the rule, and nothing is created", async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ username: "root", password: "Good-Pass-123" }, "username"],
    [{ username: "sudo", password: "Good-Pass-123" }, "username"],
    [{ username: "a'b;rm", password: "Good-Pass-123" }, "username"],
    [{ username: "Ada", password: "Good-Pass-123" }, "username"],
    [{ username: "ada lovelace", password: "Good-Pass-123" }, "username"],
    [{ username: "ada$(id)", password: "Good-Pass-123" }, "username"],
    [{ username: "ada", password: "Good-Pass-123\nroot:x" }, "password"],
    [{ username: "ada", password: "short1!" }, "password"],
    [{ username: "ada", password: "nouppercase-123" }, "password"],
  ];
  for (const [body, field] of cases) {
    const res = await api("POST", "/instance", body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.error.code, "invalid");
    assert.equal(res.body.error.issues?.[0]?.path, field, JSON.stringify(res.body));
  }
  assert.equal(bodyAt(await api("GET", "/instance"), 200).state, "none");
  assert.equal((await api("POST", "/instance/stop")).status, 404);
});

test("deploy → steps stream → SSH with the password and sudo, no root login, code-server accepts only the password", async () => {
  const [first, second] = await Promise.all([
    api("POST", "/instance", { username: "ada", password: PASSWORD }),
    api("POST", "/instance", { username: "ada", password: PASSWORD }),
  ]);
  const accepted = [first, second].filter((r) => r.status === 202);
  const refused = [first, second].filter((r) => r.status === 409);
  assert.equal(accepted.length, 1, "one deploy is accepted");
  assert.equal(refused.length, 1, "the other gets 409");
  const jobId = accepted[0]!.body.job.id;
  assert.equal(refused[0]!.body.error.jobId, jobId, "the 409 names the running job");
  assert.equal(bodyAt(await api("POST", "/instance/stop"), 409).error.jobId, jobId, "any other request while it runs: 409 too");

  const stream = await p.jobEvents(jobId, token);
  const job = await p.waitFinal(jobId, 180_000, token);
  assert.equal(job.status, "succeeded", JSON.stringify(job.error));
  const steps = ["create", "start", "network", "dns", "user", "ssh", "ide"];
  assert.deepEqual([...new Set(stream.filter((e) => e.event === "step").map((e) => e.data.step))], steps);
  assert.equal(stream.at(-1)?.event, "end");

  const inst = bodyAt(await api("GET", "/instance"), 200);
  assert.equal(inst.state, "running");
  assert.equal(inst.ip, RANGE.first);
  assert.equal(inst.username, "ada");
  assert.match(inst.urls?.ide ?? "", new RegExp(`^http://[a-z0-9-]+\\.localhost:${new URL(p.url).port}/$`), "the IDE at its app host, not the bridge address");
  assert.equal(inst.password, undefined, "the password only when asked for");
  assert.equal(bodyAt(await api("GET", "/instance?reveal=password"), 200).password, PASSWORD);

  // In LXD itself: nesting and the memory limit.
  const name = resultOf(job, "instance.deploy").name;
  const lxdInstance = await p.lxd.getInstance(name);
  assert.equal(lxdInstance?.config["security.nesting"], "true");
  assert.equal(lxdInstance?.config["limits.memory"], "1500MB");

  // SSH as the user with exactly that password; sudo works with it.
  const who = await sshRun({ host: inst.ip, username: "ada", password: PASSWORD, command: "id -un; id -nG" });
  assert.equal(who.code, 0);
  assert.match(who.stdout, /^ada\n/);
  assert.match(who.stdout, /\bsudo\b/);
  const sudo = await sshRun({ host: inst.ip, username: "ada", password: PASSWORD, command: "sudo -S -p '' id -u", stdin: `${PASSWORD}\n` });
  assert.equal(sudo.stdout.trim(), "0", "sudo with the instance password");
  await assert.rejects(sshRun({ host: inst.ip, username: "ada", password: "Wrong-Pass-123", command: "true" }), /authentication/i);
  await assert.rejects(sshRun({ host: inst.ip, username: "root", password: PASSWORD, command: "true" }), /authentication/i);
  const effective = await p.lxd.exec(name, { command: ["/usr/sbin/sshd", "-T"] });
  assert.match(effective.stdout, /^permitrootlogin no$/m);
  assert.match(effective.stdout, /^passwordauthentication yes$/m);
  // Nothing in the password was executed anywhere.
  const pwned = await p.lxd.exec(name, { command: ["/bin/sh", "-c", "ls /tmp/pwned /tmp/pwned2 /pwned /pwned2 2>/dev/null | wc -l"] });
  assert.equal(pwned.stdout.trim(), "0");

  // code-server: its login page, the password accepted, a wrong one refused.
  const page = await fetch(`http://${inst.ip}:8099/login`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /code-server/i);
  assert.equal(await ideLogin(inst.ip, PASSWORD), 302);
  assert.equal(await ideLogin(inst.ip, "Wrong-Pass-123"), 200);
  const enabled = await p.lxd.exec(name, { command: ["systemctl", "is-enabled", "code-server@ada"] });
  assert.equal(enabled.stdout.trim(), "enabled", "starts on boot");
});

test("stop → code-server gone; start → it answers again without provisioning; stop twice is a no-op", async () => {
  const { ip } = bodyAt(await api("GET", "/instance"), 200);
  assert.ok(ip, "a running instance has its address");
  const stop = await p.waitFinal(bodyAt(await api("POST", "/instance/stop"), 202).job.id, 120_000, token);
  assert.equal(stop.status, "succeeded", JSON.stringify(stop.error));
  assert.equal(bodyAt(await api("GET", "/instance"), 200).state, "stopped");
  assert.equal(await answers(ip), false);
  const again = await p.waitFinal(bodyAt(await api("POST", "/instance/stop"), 202).job.id, 60_000, token);
  assert.equal(again.status, "succeeded", "stopping a stopped instance succeeds");
  assert.deepEqual(again.steps.map((s) => s.message), [`${resultOf(again, "instance.stop").name} is already stopped`]);

  const start = await p.waitFinal(bodyAt(await api("POST", "/instance/start"), 202).job.id, 120_000, token);
  assert.equal(start.status, "succeeded", JSON.stringify(start.error));
  assert.ok(!start.steps.some((s) => ["user", "ssh", "ide"].includes(s.step)), "no provisioning step on start");
  assert.equal(bodyAt(await api("GET", "/instance"), 200).state, "running");
  assert.equal(await answers(ip), true, "code-server came back by itself");
  assert.equal(await ideLogin(ip, PASSWORD), 302);
});

test("kill removes the container and frees the address, which the next deploy gets", async () => {
  const before = bodyAt(await api("GET", "/instance"), 200);
  const kill = await p.waitFinal(bodyAt(await api("DELETE", "/instance"), 202).job.id, 120_000, token);
  assert.equal(kill.status, "succeeded", JSON.stringify(kill.error));
  assert.equal(await p.lxd.getInstance(resultOf(kill, "instance.delete").name), undefined, "gone from LXD");
  assert.equal(bodyAt(await api("GET", "/instance"), 200).state, "none");
  assert.equal((await api("DELETE", "/instance")).status, 404);

  const other = await p.userToken();
  const deploy = await p.api("POST", "/instance", { username: "grace", password: "Cobol-Rocks-1959" }, other);
  assert.equal(deploy.status, 202, JSON.stringify(deploy.body));
  const job = await p.waitFinal(deploy.body.job.id, 180_000, other);
  assert.equal(job.status, "succeeded", JSON.stringify(job.error));
  assert.equal(resultOf(job, "instance.deploy").ipv4, before.ip, "the freed address is the lowest free one again");
  const killed = await p.waitFinal(bodyAt(await p.api("DELETE", "/instance", undefined, other), 202).job.id, 120_000, other);
  assert.equal(killed.status, "succeeded");
});

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { bodyAt, type ApiMethod } from "../support/api";
import { Pipeline } from "../support/pipeline";
import { answers, ideLogin, sshRun } from "../support/instance-checks";
import { instanceNameFor } from "../../shared/instances/rules";

/**
 * SIGKILL the agent in the middle of provisioning, at a different step each round, and start it
 * again: the deploy ends either fully provisioned and running, or failed and redeployable; never
 * half-made and reported running, and never two containers.
 */
const PASSWORD = "Crash-Safe-123";
let p: Pipeline;
let token: string;
let name: string;

before(async () => {
  p = await Pipeline.start({ env: { KWS_BRIDGE_RANGE: "172.30.0.100-172.30.0.109", KWS_INSTANCE_IMAGE: "kws/debian-12", KWS_HOST_MEMORY_RESERVE_MB: "512" } });
  await p.until(async () => (await p.hostRow()).facts !== null, 20_000, "facts");
  token = await p.userToken();
  name = instanceNameFor(bodyAt(await p.api("GET", "/me", undefined, token), 200).user.id);
});
after(async () => {
  const kill = await p?.api("DELETE", "/instance", undefined, token).catch(() => undefined);
  if (kill?.status === 202) await p.waitFinal(kill.body.job.id, 120_000, token).catch(() => undefined);
  await p?.close();
});

const api = <M extends ApiMethod, P extends string>(method: M, path: P, body?: unknown) => p.api(method, path, body, token);

/** Running and usable: code-server takes the password, SSH too. */
async function assertUsable(ip: string) {
  assert.equal(await answers(ip), true, "code-server answers");
  assert.equal(await ideLogin(ip, PASSWORD), 302);
  const who = await sshRun({ host: ip, username: "ada", password: PASSWORD, command: "id -un" });
  assert.equal(who.stdout.trim(), "ada");
}

for (const step of ["start", "user", "ide"]) {
  test(`agent killed at the ${step} step: the deploy finishes or fails cleanly`, async () => {
    const deploy = await api("POST", "/instance", { username: "ada", password: PASSWORD });
    assert.equal(deploy.status, 202, JSON.stringify(deploy.body));
    const jobId = deploy.body.job.id;
    await p.waitJob(jobId, (j) => j.steps.some((s) => s.step === step) || j.status === "succeeded" || j.status === "failed", 120_000, `step ${step}`, token);
    await p.agent.stop("SIGKILL");
    assert.equal(bodyAt(await api("GET", "/instance"), 200).state, "provisioning", "not reported running while the agent is dead");
    p.startAgent();

    const job = await p.waitFinal(jobId, 240_000, token);
    const inst = bodyAt(await api("GET", "/instance"), 200);
    assert.ok(inst.ip, "the instance keeps its address");
    if (job.status === "succeeded") {
      assert.equal(inst.state, "running");
      await assertUsable(inst.ip);
    } else {
      assert.equal(inst.state, "failed", `a failed deploy leaves a failed instance (${JSON.stringify(job.error)})`);
      const again = await api("POST", "/instance", { username: "ada", password: PASSWORD });
      assert.equal(again.status, 202, "a failed instance can be deployed again");
      assert.equal((await p.waitFinal(again.body.job.id, 240_000, token)).status, "succeeded");
      assert.equal(bodyAt(await api("GET", "/instance"), 200).state, "running");
      await assertUsable(inst.ip);
    }
    const ours = (await p.lxd.listInstances()).filter((i) => i.name === name);
    assert.equal(ours.length, 1, "exactly one container");

    const kill = await p.waitFinal(bodyAt(await api("DELETE", "/instance"), 202).job.id, 120_000, token);
    assert.equal(kill.status, "succeeded");
    assert.equal(await p.lxd.getInstance(name), undefined);
  });
}

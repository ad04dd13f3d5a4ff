/**
 * Inbound deploy hooks end to end: the control plane, an agent and a real Debian instance with a
 * real user. Signed deliveries of each provider run the command in the instance (as the person, in
 * their home); unsigned, wrongly signed, replayed and oversized ones run nothing; pushes during a
 * run make one more run; a hook starts at most 30 runs an hour; only the owner sees a hook; the
 * page shows the runs.
 */
import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { bodyAt, fetchApi, type BodyOf } from "../support/api";
import { Pipeline } from "../support/pipeline";

// Addresses of this file's own on the shared LXD bridge.
const RANGE = "172.30.0.250-172.30.0.253";
const USER = "dev";

type CreatedHook = BodyOf<"POST", "/api/v1/hooks", 201>["hook"];
type Run = BodyOf<"GET", "/api/v1/hooks/x/runs", 200>["runs"][number];

let p: Pipeline;
let token: string;
let cookie: string;
let instanceName: string;

before(async () => {
  p = await Pipeline.start({
    env: { KWS_BRIDGE_RANGE: RANGE, KWS_INSTANCE_IMAGE: "kws/debian-12", KWS_INSTANCE_MEMORY_MB: "512", KWS_HOST_MEMORY_RESERVE_MB: "256" },
  });
  ({ token, cookie } = await p.account());
  instanceName = (await p.deploy(token, { username: USER, password: "Deploy-Hooks-2026" }, 240_000)).name;
});

after(async () => {
  const kill = await p?.api("DELETE", "/instance", undefined, token).catch(() => undefined);
  if (kill?.status === 202) await p.waitFinal(kill.body.job.id, 120_000, token).catch(() => undefined);
  await p?.close();
});

async function newHook(provider: "github" | "gitlab" | "standard", command: string, as = token): Promise<CreatedHook> {
  return bodyAt(await p.api("POST", "/hooks", { name: `${provider}-${randomUUID().slice(0, 8)}`, provider, command }, as), 201).hook;
}

const deliver = (hook: CreatedHook, body: unknown, headers: Record<string, string>) => fetchApi(p.url, "POST", `/hooks/v1/${hook.id}`, { body, headers });

const githubSignature = (secret: string, body: unknown) => `sha256=${createHmac("sha256", secret).update(JSON.stringify(body)).digest("hex")}`;

/** A GitHub delivery of `body`, signed with the hook's secret unless `signature` says otherwise. */
function github(hook: CreatedHook, body: unknown, o: { event?: string; delivery?: string; signature?: string | null } = {}) {
  const signature = o.signature === undefined ? githubSignature(hook.secret, body) : o.signature;
  return deliver(hook, body, {
    "x-github-event": o.event ?? "push",
    "x-github-delivery": o.delivery ?? randomUUID(),
    ...(signature === null ? {} : { "x-hub-signature-256": signature }),
  });
}

function gitlab(hook: CreatedHook, body: unknown, o: { delivery?: string; token?: string } = {}) {
  return deliver(hook, body, { "x-gitlab-event": "Push Hook", "x-gitlab-event-uuid": o.delivery ?? randomUUID(), "x-gitlab-token": o.token ?? hook.secret });
}

/** A Standard Webhooks delivery signed with the reference implementation. */
function standard(hook: CreatedHook, body: unknown, o: { id?: string; at?: Date; secret?: string } = {}) {
  const id = o.id ?? `msg_${randomUUID()}`;
  const at = o.at ?? new Date();
  const signature = new Webhook(o.secret ?? hook.secret).sign(id, at, JSON.stringify(body));
  return deliver(hook, body, { "webhook-id": id, "webhook-timestamp": String(Math.floor(at.getTime() / 1000)), "webhook-signature": signature });
}

async function runs(hook: CreatedHook, as = token): Promise<Run[]> {
  return bodyAt(await p.api("GET", `/hooks/${hook.id}/runs`, undefined, as), 200).runs;
}

async function finalRun(hook: CreatedHook, runId: string, timeoutMs = 60_000): Promise<Run> {
  let run: Run | undefined;
  await p.until(async () => {
    run = (await runs(hook)).find((r) => r.id === runId);
    return run?.status === "succeeded" || run?.status === "failed";
  }, timeoutMs, `run ${runId} final (last: ${JSON.stringify(run)})`);
  return run!;
}

/** Delivers `send` and checks the answer came within a second: the run it started. */
async function started(send: () => ReturnType<typeof deliver>) {
  const t0 = performance.now();
  const res = await send();
  const ms = performance.now() - t0;
  const answer = bodyAt(res, 202);
  assert.ok(ms < 1000, `answered in ${Math.round(ms)} ms`);
  assert.ok(answer.run?.jobId, `a job for the run: ${JSON.stringify(answer)}`);
  return answer.run!;
}

async function inInstance(...command: string[]) {
  return p.lxd.exec(instanceName, { command });
}

test("a hook is made with its URL and a secret shown once; bad input names the field", async () => {
  const hook = await newHook("github", "true");
  assert.equal(hook.url, `${p.url}/hooks/v1/${hook.id}`);
  assert.match(hook.secret, /^[0-9a-f]{64}$/);
  assert.match((await newHook("standard", "true")).secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  const listed = bodyAt(await p.api("GET", "/hooks", undefined, token), 200).hooks.find((h) => h.id === hook.id);
  assert.ok(listed);
  assert.equal("secret" in listed, false, "the list never shows a secret");
  for (const [body, field] of [
    [{ name: "x", provider: "bitbucket", command: "true" }, "provider"],
    [{ name: "x", provider: "github", command: "  " }, "command"],
    [{ name: "", provider: "github", command: "true" }, "name"],
  ] as const) {
    const res = await p.api("POST", "/hooks", body, token);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.error.issues?.[0]?.path, field);
  }
  assert.equal(bodyAt(await p.api("POST", "/hooks", { name: listed.name, provider: "gitlab", command: "true" }, token), 409).error.code, "conflict");
});

test("GitHub: a signed push runs the command as the person in their home; its output and exit code are in the run", async () => {
  const hook = await newHook("github", "id -un && pwd && echo hi > marker");
  const run = await started(() => github(hook, { ref: "refs/heads/main", commits: [] }));
  const done = await finalRun(hook, run.id);
  assert.equal(done.status, "succeeded", JSON.stringify(done));
  assert.equal(done.exitCode, 0);
  assert.equal(done.event, "push");
  assert.equal(done.output, `${USER}\n/home/${USER}\n`);
  const marker = await inInstance("stat", "-c", "%U %n", `/home/${USER}/marker`);
  assert.equal(marker.stdout.trim(), `${USER} /home/${USER}/marker`, "the file is the person's, in their home");
  assert.equal((await inInstance("cat", `/home/${USER}/marker`)).stdout, "hi\n");
  const page = await (await fetch(`${p.url}/kws_hooks`, { headers: { cookie } })).text();
  assert.ok(page.includes(`<pre data-testid="output-${run.id}">${USER}\n/home/${USER}\n</pre>`), "the page shows the run's output");
});

test("GitHub: a wrong or missing signature, a replay and an oversized body run nothing; a ping is answered", async () => {
  const hook = await newHook("github", "echo ran >> count");
  const body = { ref: "refs/heads/main" };
  const first = await started(() => github(hook, body, { delivery: "d-1" }));
  await finalRun(hook, first.id);

  const wrong = await github(hook, body, { signature: githubSignature("not the secret", body) });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.error.code, "unauthorized");
  assert.equal((await github(hook, body, { signature: null })).status, 401);
  // The signature of another body.
  assert.equal((await github(hook, body, { signature: githubSignature(hook.secret, { ref: "refs/heads/evil" }) })).status, 401);

  const replay = await github(hook, body, { delivery: "d-1" });
  assert.equal(replay.status, 200);
  assert.deepEqual(bodyAt(replay, 200).run, { id: first.id, jobId: first.jobId }, "a replay answers the original run");

  const big = { ref: "refs/heads/main", padding: "x".repeat(70 * 1024) };
  assert.equal((await github(hook, big)).status, 413);
  // The same without a Content-Length: counted as it arrives.
  const chunked = await fetch(`${p.url}/hooks/v1/${hook.id}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": randomUUID(), "x-hub-signature-256": githubSignature(hook.secret, big) },
    body: new Blob([JSON.stringify(big)]).stream(),
    duplex: "half",
  } as RequestInit);
  assert.equal(chunked.status, 413);

  const ping = await github(hook, { zen: "Keep it logically awesome." }, { event: "ping" });
  assert.equal(ping.status, 200);
  assert.equal(bodyAt(ping, 200).run, null);

  assert.equal((await runs(hook)).length, 1, "one run only");
  assert.equal((await inInstance("cat", `/home/${USER}/count`)).stdout, "ran\n", "the command ran once");
});

test("GitLab: the token is checked; a failing command's exit code and stderr are kept; a replay runs nothing", async () => {
  const hook = await newHook("gitlab", "echo out; echo oops >&2; exit 3");
  assert.equal((await gitlab(hook, { object_kind: "push" }, { token: "wrong" })).status, 401);
  assert.equal((await deliver(hook, { object_kind: "push" }, { "x-gitlab-event-uuid": randomUUID() })).status, 401);
  const run = await started(() => gitlab(hook, { object_kind: "push" }, { delivery: "g-1" }));
  const done = await finalRun(hook, run.id);
  assert.equal(done.status, "failed");
  assert.equal(done.exitCode, 3);
  assert.equal(done.event, "Push Hook");
  assert.equal(done.output, "out\noops\n");
  assert.equal(bodyAt(await gitlab(hook, { object_kind: "push" }, { delivery: "g-1" }), 200).run?.id, run.id);
  assert.equal((await runs(hook)).length, 1);
});

test("Standard Webhooks: signed with the reference implementation it runs; a stale timestamp, another key or a replay does not", async () => {
  const hook = await newHook("standard", "echo standard > std-marker");
  const payload = { type: "deploy.requested", timestamp: new Date().toISOString(), data: { ref: "main" } };
  assert.equal((await standard(hook, payload, { at: new Date(Date.now() - 6 * 60_000) })).status, 401, "older than 5 minutes");
  assert.equal((await standard(hook, payload, { at: new Date(Date.now() + 6 * 60_000) })).status, 401, "more than 5 minutes ahead");
  assert.equal((await standard(hook, payload, { secret: `whsec_${Buffer.alloc(32, 7).toString("base64")}` })).status, 401);
  assert.equal((await deliver(hook, payload, { "webhook-id": "msg_x", "webhook-timestamp": String(Math.floor(Date.now() / 1000)) })).status, 401);
  const run = await started(() => standard(hook, payload, { id: "msg_1" }));
  const done = await finalRun(hook, run.id);
  assert.equal(done.status, "succeeded", JSON.stringify(done));
  assert.equal(done.event, "deploy.requested");
  assert.equal((await inInstance("cat", `/home/${USER}/std-marker`)).stdout, "standard\n");
  assert.equal(bodyAt(await standard(hook, payload, { id: "msg_1" }), 200).run?.id, run.id);
  assert.equal((await runs(hook)).length, 1);
});

test("pushes during a run make one more run, not many; it starts when the first ends", async () => {
  const hook = await newHook("github", "sleep 3; date +%s%N >> runs.log");
  const first = await started(() => github(hook, { n: 1 }));
  const queued = await Promise.all([2, 3, 4, 5].map((n) => github(hook, { n })));
  const ids = queued.map((r) => bodyAt(r, 202).run?.id);
  assert.equal(new Set(ids).size, 1, `one queued run for all four: ${JSON.stringify(ids)}`);
  assert.notEqual(ids[0], first.id);
  assert.equal(bodyAt(queued[0]!, 202).run?.jobId, null, "it waits: no job yet");
  const one = await finalRun(hook, first.id);
  const two = await finalRun(hook, ids[0]!);
  assert.equal(one.status, "succeeded");
  assert.equal(two.status, "succeeded", JSON.stringify(two));
  assert.ok(two.startedAt! >= one.finishedAt!, "the second started after the first ended");
  assert.equal((await runs(hook)).length, 2);
  assert.equal((await inInstance("cat", `/home/${USER}/runs.log`)).stdout.trim().split("\n").length, 2);
});

test("another person cannot see, list or remove a hook; a person without an instance gets 409 and no run", async () => {
  const hook = await newHook("github", "true");
  const other = await p.userToken();
  assert.equal((await p.api("GET", `/hooks/${hook.id}/runs`, undefined, other)).status, 404);
  assert.equal((await p.api("DELETE", `/hooks/${hook.id}`, undefined, other)).status, 404);
  assert.deepEqual(bodyAt(await p.api("GET", "/hooks", undefined, other), 200).hooks, []);
  const theirs = await newHook("github", "true", other);
  const res = await github(theirs, { ref: "main" });
  assert.equal(res.status, 409);
  assert.match(res.body.error.message, /no instance/);
  assert.deepEqual(await runs(theirs, other), []);
  assert.equal((await p.api("DELETE", `/hooks/${theirs.id}`, undefined, other)).status, 204);
  assert.equal((await github(theirs, { ref: "main" })).status, 404);
});

test("a hook starts at most 30 runs an hour: the 31st delivery gets 429 with Retry-After", async () => {
  const hook = await newHook("github", "true");
  for (let i = 0; i < 30; i++) await finalRun(hook, (await started(() => github(hook, { i }))).id);
  const limited = await github(hook, { i: 30 });
  assert.equal(limited.status, 429);
  assert.ok(Number(limited.headers.get("retry-after")) > 3000, `Retry-After ${limited.headers.get("retry-after")}`);
  assert.equal((await runs(hook)).length, 30);
});

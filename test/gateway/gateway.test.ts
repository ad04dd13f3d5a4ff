import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import WebSocket from "ws";
import { hosts, jobs } from "../../shared/db/schema";
import { bodyAt, fetchApi, type ApiMethod } from "../support/api";
import { signedInUser } from "../support/harness";
import { startControlPlane, type RunningControlPlane } from "../support/control-plane";
import { ScriptedAgent } from "../support/scripted-agent";
import { waitFor } from "../queue/wait";

let cp: RunningControlPlane;
before(async () => {
  cp = await startControlPlane({ heartbeatMs: 500 });
});
after(() => cp.close());

const api = <M extends ApiMethod, P extends string>(method: M, path: P, body?: unknown, cookie = cp.adminCookie) =>
  fetchApi(cp.url, method, `/api/v1${path}`, { body, headers: cookie ? { cookie } : {} });

let hostCounter = 0;
async function enrolledHost() {
  const created = await api("POST", "/hosts", { name: `gw-host-${Date.now().toString(36)}-${hostCounter++}` });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const enrolled = await api("POST", "/agent/enroll", { token: created.body.enrollmentToken }, "");
  assert.equal(enrolled.status, 201);
  return { host: created.body.host, token: created.body.enrollmentToken, credential: enrolled.body.credential };
}

async function connected(credential: string) {
  const agent = await ScriptedAgent.connect(cp.url, credential);
  agent.hello();
  await agent.next("welcome");
  return agent;
}

async function jobOf(id: string) {
  return bodyAt(await api("GET", `/jobs/${id}`), 200).job;
}

describe("admin routes", () => {
  test("non-admins get 403, anonymous callers 401", async () => {
    const { cookie } = await signedInUser(cp.h);
    assert.equal((await api("POST", "/hosts", { name: "nope-host" }, cookie)).status, 403);
    assert.equal((await api("GET", "/hosts", undefined, cookie)).status, 403);
    const { host } = await enrolledHost();
    assert.equal((await api("POST", `/hosts/${host.id}/jobs`, { kind: "noop" }, cookie)).status, 403);
    assert.equal((await api("POST", `/hosts/${host.id}/drain`, undefined, cookie)).status, 403);
    assert.equal((await api("DELETE", `/hosts/${host.id}`, undefined, cookie)).status, 403);
    assert.equal((await api("GET", "/hosts", undefined, "")).status, 401);
  });

  test("host names are validated and unique", async () => {
    const bad = await api("POST", "/hosts", { name: "Bad Name!" });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.issues?.[0]?.path, "name");
    const name = `dup-${Date.now().toString(36)}`;
    assert.equal((await api("POST", "/hosts", { name })).status, 201);
    assert.equal((await api("POST", "/hosts", { name })).status, 409);
  });

  test("a raw job's payload is validated against its command", async () => {
    const { host } = await enrolledHost();
    const unknown = await api("POST", `/hosts/${host.id}/jobs`, { kind: "rm -rf /", payload: {} });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.issues?.[0]?.path, "kind");
    const badName = await api("POST", `/hosts/${host.id}/jobs`, { kind: "instance.start", payload: { name: "x; reboot" } });
    assert.equal(badName.status, 400);
    assert.equal(badName.body.error.issues?.[0]?.path, "payload.name");
    const missing = await api("POST", `/hosts/00000000-0000-4000-8000-000000000000/jobs`, { kind: "noop" });
    assert.equal(missing.status, 404);
  });
});

describe("enrollment", () => {
  test("a token works once; reuse is 410, an unknown token 401, an expired one 410", async () => {
    const { token } = await enrolledHost();
    const reused = await api("POST", "/agent/enroll", { token }, "");
    assert.equal(reused.status, 410);
    assert.match(reused.body.error.message, /already used/);
    assert.equal((await api("POST", "/agent/enroll", { token: "kws_enroll_forged" }, "")).status, 401);

    const created = await api("POST", "/hosts", { name: `expiring-${Date.now().toString(36)}` });
    assert.equal(created.status, 201);
    await cp.h.services.db.update(hosts).set({ enrollmentExpiresAt: new Date(Date.now() - 1000) }).where(eq(hosts.id, created.body.host.id));
    const expired = await api("POST", "/agent/enroll", { token: created.body.enrollmentToken }, "");
    assert.equal(expired.status, 410);
    assert.match(expired.body.error.message, /expired/);
  });

  test("only the credential's hash is stored", async () => {
    const { host, credential } = await enrolledHost();
    const [row] = await cp.h.services.db.select().from(hosts).where(eq(hosts.id, host.id));
    assert.ok(row!.credentialHash && !row!.credentialHash.includes(credential));
    assert.ok(!JSON.stringify(row).includes(credential));
  });
});

describe("connection", () => {
  test("a wrong credential never gets a websocket", async () => {
    await assert.rejects(ScriptedAgent.connect(cp.url, "kws_host_wrong"), (err: { status?: number }) => err.status === 401);
    await assert.rejects(
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`${cp.url.replace("http", "ws")}/agent/v1/connect`);
        ws.once("open", resolve);
        ws.once("unexpected-response", (_: unknown, res: IncomingMessage) => reject(Object.assign(new Error("refused"), { status: res.statusCode })));
        ws.once("error", reject);
      }),
      (err: { status?: number }) => err.status === 401,
      "no credential at all",
    );
  });

  test("an unknown protocol major version is refused with a reason", async () => {
    const { credential } = await enrolledHost();
    const agent = await ScriptedAgent.connect(cp.url, credential);
    agent.hello("2.0");
    const refused = await agent.next("refused");
    assert.match(refused.reason, /protocol 2\.0 is not supported/);
    const closed = await agent.waitClosed();
    assert.equal(closed.code, 4006);

    const v2 = await ScriptedAgent.connect(cp.url, credential);
    v2.ws.send(JSON.stringify({ v: 2, id: "x", type: "hello" }));
    assert.match((await v2.next("refused")).reason, /major version 2/);
  });

  test("malformed frames are answered with an error and the connection stays", async () => {
    const { credential } = await enrolledHost();
    const agent = await connected(credential);
    for (const frame of ["not json", "[]", '{"v":1,"id":"a","type":"result","jobId":"nope"}', '{"v":1,"id":"b","type":"bogus"}', "{}"]) {
      const before = agent.received.length;
      agent.sendRaw(frame);
      const err = await agent.next("error", before);
      assert.ok(err.message.length > 0);
    }
    assert.equal(agent.closed, undefined, "still connected");
    agent.send({ type: "facts", facts: { cpus: 2, memoryBytes: 1e9, diskFreeBytes: 5e9, runningInstances: 0, instances: 0 } });
    await waitFor(async () => bodyAt(await api("GET", "/hosts"), 200).hosts.some((h) => h.facts?.cpus === 2), 5000, "facts stored");
    agent.close();
  });

  test("a new connection replaces the old one; the host goes offline when its agent leaves", async () => {
    const { host, credential } = await enrolledHost();
    const first = await connected(credential);
    const state = async () => bodyAt(await api("GET", "/hosts"), 200).hosts.find((h) => h.id === host.id);
    await waitFor(async () => (await state())?.state === "online", 5000, "online");
    const second = await connected(credential);
    assert.equal((await first.waitClosed()).code, 4001);
    assert.equal((await state())?.state, "online", "the replacement keeps it online");
    second.terminate();
    await waitFor(async () => (await state())?.state === "offline", 5000, "offline after the agent left");
    await api("POST", `/hosts/${host.id}/drain`);
    assert.equal((await state())?.state, "draining");
    await api("POST", `/hosts/${host.id}/undrain`);
    assert.equal((await state())?.state, "offline");
  });

  test("an agent that stops answering pings is dropped and the host shows offline", async () => {
    const { host, credential } = await enrolledHost();
    const agent = await connected(credential);
    // Stop answering pings, as a hung host would.
    (agent.ws as any)._receiver.removeAllListeners("ping");
    agent.ws.pong = () => {};
    await agent.waitClosed(5000);
    // The gateway records it right after closing (its teardown first cancels the host's consumer).
    await waitFor(async () => bodyAt(await api("GET", "/hosts"), 200).hosts.find((h) => h.id === host.id)?.state === "offline", 5000, "host offline");
  });
});

describe("jobs through the gateway", () => {
  test("command → progress → result: the job succeeds with its steps, and SSE streams them", async () => {
    const { host, credential } = await enrolledHost();
    const agent = await connected(credential);
    const submitted = await api("POST", `/hosts/${host.id}/jobs`, { kind: "noop", payload: {} });
    assert.equal(submitted.status, 202);
    const jobId = submitted.body.job.id;
    assert.equal(submitted.body.job.status, "queued");

    const events = fetch(`${cp.url}/api/v1/jobs/${jobId}/events`, { headers: { cookie: cp.adminCookie } }).then((r) => r.text());
    const command = await agent.next("command");
    assert.equal(command.jobId, jobId);
    assert.equal(command.kind, "noop");
    assert.equal(command.attempt, 1);
    agent.send({ type: "progress", jobId, step: "one", message: "first step" });
    agent.send({ type: "progress", jobId, step: "two", message: "second step" });
    await waitFor(async () => (await jobOf(jobId)).steps.length === 2, 5000, "steps stored");
    agent.send({ type: "result", jobId, ok: true, data: { answer: 42 } });
    const ack = await agent.next("ack");
    assert.equal(ack.jobId, jobId);

    const job = await jobOf(jobId);
    assert.equal(job.status, "succeeded");
    assert.deepEqual(job.result, { answer: 42 });
    assert.deepEqual(job.steps.map((s) => s.step), ["one", "two"]);
    const stream = await events;
    assert.match(stream, /event: step\ndata: \{[^\n]*"step":"one"/);
    assert.match(stream, /event: step\ndata: \{[^\n]*"step":"two"/);
    assert.match(stream, /event: end\ndata: .*"status":"succeeded"/);
    agent.close();
  });

  test("a resent result is stored once; a result for another host's job changes nothing", async () => {
    const a = await enrolledHost();
    const b = await enrolledHost();
    const agentA = await connected(a.credential);
    const agentB = await connected(b.credential);
    const body = bodyAt(await api("POST", `/hosts/${a.host.id}/jobs`, { kind: "noop", payload: {} }), 202);
    await agentA.next("command");
    agentB.send({ type: "result", jobId: body.job.id, ok: false, error: { code: "x", message: "forged" } });
    await agentB.next("ack");
    assert.notEqual((await jobOf(body.job.id)).status, "failed", "B cannot finish A's job");
    agentA.send({ type: "result", jobId: body.job.id, ok: true, data: { n: 1 } });
    await agentA.next("ack");
    const acks = agentA.received.length;
    agentA.send({ type: "result", jobId: body.job.id, ok: false, error: { code: "late", message: "late duplicate" } });
    await agentA.next("ack", acks);
    const job = await jobOf(body.job.id);
    assert.equal(job.status, "succeeded");
    assert.deepEqual(job.result, { n: 1 });
    agentA.close();
    agentB.close();
  });

  test("a job whose host stays offline past its deadline fails with the reason", async () => {
    const { host } = await enrolledHost();
    const body = bodyAt(await api("POST", `/hosts/${host.id}/jobs`, { kind: "noop", payload: {}, deadlineSeconds: 1 }), 202);
    await waitFor(async () => (await jobOf(body.job.id)).status === "failed", 10_000, "failed at the deadline");
    const job = await jobOf(body.job.id);
    assert.equal(job.error?.code, "deadline_passed");
    assert.match(job.error?.message ?? "", new RegExp(`host ${host.name} has never connected`));
  });

  test("a job whose agent disconnects during every attempt is dead-lettered after 3 and fails", async () => {
    const { host, credential } = await enrolledHost();
    const body = bodyAt(await api("POST", `/hosts/${host.id}/jobs`, { kind: "noop", payload: {} }), 202);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const agent = await connected(credential);
      const command = await agent.next("command");
      assert.equal(command.attempt, attempt);
      agent.terminate();
      await agent.waitClosed();
    }
    await waitFor(async () => (await jobOf(body.job.id)).status === "failed", 10_000, "dead-lettered");
    const job = await jobOf(body.job.id);
    assert.equal(job.error?.code, "attempts_exhausted");
    assert.match(job.error?.message ?? "", /gave up after 3 delivery attempts/);
  });

  test("another user cannot see a job; its owner and admins can", async () => {
    const { host } = await enrolledHost();
    const body = bodyAt(await api("POST", `/hosts/${host.id}/jobs`, { kind: "noop", payload: {} }), 202);
    const { cookie } = await signedInUser(cp.h);
    assert.equal((await api("GET", `/jobs/${body.job.id}`, undefined, cookie)).status, 404);
    assert.equal((await api("GET", `/jobs/${body.job.id}/events`, undefined, cookie)).status, 404);
    assert.equal((await api("GET", `/jobs/${body.job.id}`)).status, 200);
    const [row] = await cp.h.services.db.select().from(jobs).where(eq(jobs.id, body.job.id));
    assert.ok(row);
  });
});

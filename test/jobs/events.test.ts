import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { serve, type ServerType } from "@hono/node-server";
import { createControlPlane } from "../../functions/control-plane";
import { MAX_OPEN_STREAMS, SLOT_TTL_SECONDS, takeStreamSlot } from "../../functions/jobs/stream-slots";
import { bodyAt, replyOf } from "../support/api";
import { signedInUser, startHarness, type Harness } from "../support/harness";
import { environmentKV } from "../support/kv";
import { insertOnlineHost } from "../support/online-host";

// Two clients of one store, as two control-plane processes have.
const prefix = `t-events-${Date.now().toString(36)}:`;
const kvClient = () => environmentKV(prefix);

let h: Harness;
let servers: ServerType[] = [];
let first: string;
let second: string;

async function listen(fetch: (req: Request) => Response | Promise<Response>): Promise<string> {
  const server = serve({ fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((resolve) => server.once("listening", resolve));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

before(async () => {
  h = await startHarness({ kv: kvClient() });
  await insertOnlineHost(h.services.db);
  first = await listen(h.app.fetch);
  // The second "process": the same database and another client of the same KV.
  const other = createControlPlane(async () => ({ services: { ...h.services, kv: kvClient() } }));
  second = await listen(other.fetch);
});
after(async () => {
  for (const s of servers) {
    (s as unknown as { closeAllConnections(): void }).closeAllConnections();
    s.close();
  }
  await h.close();
});

/** A signed-in person with a queued job (no agent behind the host, so it stays open). */
async function personWithJob() {
  const person = await signedInUser(h);
  const res = await h.call("POST", "/api/v1/instance", { body: { username: "ada", password: "Stream-Check-123" }, headers: { cookie: person.cookie } });
  assert.equal(res.status, 202, await res.clone().text());
  const { job } = await res.json();
  return { ...person, jobId: job.id };
}

interface OpenStream {
  status: number;
  body: string;
  ended: Promise<number>;
  abort(): void;
}

/** Opens the job's event stream; `ended` resolves with the time the server closed it. */
async function openStream(base: string, jobId: string, headers: Record<string, string>): Promise<OpenStream> {
  const controller = new AbortController();
  const res = await fetch(`${base}/api/v1/jobs/${jobId}/events`, { headers, signal: controller.signal });
  if (res.status !== 200) return { status: res.status, body: await res.text(), ended: Promise.resolve(Date.now()), abort: () => {} };
  const reader = res.body!.getReader();
  const stream: OpenStream = { status: 200, body: "", abort: () => controller.abort(), ended: Promise.resolve(0) };
  stream.ended = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        stream.body += new TextDecoder().decode(value);
      }
    } catch {
      // aborted by this side
    }
    return Date.now();
  })();
  return stream;
}

async function until(check: () => Promise<boolean>, ms: number, what: string) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`not within ${ms} ms: ${what}`);
}

test("a job's event stream ends within 5 s of logout", async () => {
  const { cookie, jobId } = await personWithJob();
  const stream = await openStream(first, jobId, { cookie });
  assert.equal(stream.status, 200);
  await until(async () => stream.body.includes("event: status"), 5_000, "first events");
  const out = await h.call("POST", "/api/v1/auth/logout", { headers: { cookie } });
  assert.equal(out.status, 204);
  const loggedOutAt = Date.now();
  const endedAt = await Promise.race([stream.ended, new Promise<number>((r) => setTimeout(() => r(Infinity), 8_000))]);
  assert.ok(endedAt - loggedOutAt < 5_000, `ended ${endedAt - loggedOutAt} ms after logout`);
  assert.match(stream.body, /event: revoked/);
});

test("a job's event stream read with an API token ends within 5 s of the token's DELETE", async () => {
  const { cookie, jobId } = await personWithJob();
  const made = await h.call("POST", "/api/v1/tokens", { body: { name: "watcher", scope: "read" }, headers: { cookie } });
  const { token: row, secret } = bodyAt(await replyOf(made), 201);
  const stream = await openStream(first, jobId, { authorization: `Bearer ${secret}` });
  assert.equal(stream.status, 200, stream.body);
  await until(async () => stream.body.includes("event: status"), 5_000, "first events");
  assert.equal((await h.call("DELETE", `/api/v1/tokens/${row.id}`, { headers: { cookie } })).status, 204);
  const revokedAt = Date.now();
  const endedAt = await Promise.race([stream.ended, new Promise<number>((r) => setTimeout(() => r(Infinity), 8_000))]);
  assert.ok(endedAt - revokedAt < 5_000, `ended ${endedAt - revokedAt} ms after the revocation`);
});

test(`at most ${MAX_OPEN_STREAMS} open streams per person, counted across processes; a disconnected client frees its slot`, async () => {
  const { cookie, jobId } = await personWithJob();
  const streams: OpenStream[] = [];
  for (let i = 0; i < MAX_OPEN_STREAMS; i++) {
    const s = await openStream(i % 2 ? second : first, jobId, { cookie });
    assert.equal(s.status, 200, `stream ${i + 1}: ${s.body}`);
    streams.push(s);
  }
  for (const base of [first, second]) {
    const over = await openStream(base, jobId, { cookie });
    assert.equal(over.status, 429, "the 21st, on either process");
    const err = JSON.parse(over.body);
    assert.equal(err.error.code, "rate_limited");
    assert.match(err.error.message, /20 event streams open/);
  }
  // Another person is not counted with this one.
  const other = await personWithJob();
  const theirs = await openStream(first, other.jobId, { cookie: other.cookie });
  assert.equal(theirs.status, 200);
  theirs.abort();

  // A client that goes away (no close of its own from the server) gives its slot back.
  streams.shift()!.abort();
  let again: OpenStream | undefined;
  await until(async () => {
    again = await openStream(second, jobId, { cookie });
    return again.status === 200;
  }, 5_000, "a slot after one client disconnected");
  streams.push(again!);
  for (const s of streams) s.abort();
  await until(async () => {
    const probe = await Promise.all(Array.from({ length: MAX_OPEN_STREAMS }, () => openStream(first, jobId, { cookie })));
    const ok = probe.filter((p) => p.status === 200).length;
    for (const p of probe) p.abort();
    await Promise.all(probe.map((p) => p.ended));
    return ok === MAX_OPEN_STREAMS;
  }, 10_000, "all slots free once every client left");
});

test("slots left by a crashed process expire on their own", async () => {
  const { cookie, jobId, userId } = await personWithJob();
  const kv = kvClient();
  for (let i = 0; i < MAX_OPEN_STREAMS; i++) assert.ok(await takeStreamSlot(kv, userId), "slot taken and never released");
  assert.equal((await openStream(first, jobId, { cookie })).status, 429);
  for (let i = 0; i < MAX_OPEN_STREAMS; i++) {
    const ttl = await kv.ttl(`event-streams:${userId}:${i}`);
    assert.ok(ttl !== null && ttl > 0 && ttl <= SLOT_TTL_SECONDS, `slot ${i} expires (ttl ${ttl})`);
  }
});

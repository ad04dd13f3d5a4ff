import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import { jobs } from "../../shared/db/schema";
import { fetchApi } from "../support/api";
import { startControlPlane, type RunningControlPlane } from "../support/control-plane";
import type { Program } from "../support/processes";
import { agentProcess, closed, idleStreamMemory, newHost, tcpServer, until } from "../support/streams";

/** A real agent process (`npm run agent`) with its data connection to the hub of a real control plane. */
let cp: RunningControlPlane;
let agent: Program;
let hostId: string;
let source: Awaited<ReturnType<typeof tcpServer>>;

const connected = () => cp.streams.connectedHosts().includes(hostId) && cp.gateway.connectedHosts().includes(hostId);
const dial = (port: number) => cp.streams.dial({ hostId, address: "127.0.0.1", port });

before(async () => {
  cp = await startControlPlane({ heartbeatMs: 500 });
  const host = await newHost(cp, "streams-proc");
  hostId = host.hostId;
  agent = agentProcess(cp, host.token);
  await until(connected, 60_000, "the agent's control and data connections");
  // Sends until the client goes away.
  source = await tcpServer((socket: Socket) => {
    const chunk = Buffer.alloc(64 * 1024, 9);
    const pump = () => {
      while (!socket.destroyed) if (!socket.write(chunk)) return void socket.once("drain", pump);
    };
    pump();
  });
});
after(async () => {
  await agent?.stop("SIGTERM").catch(() => agent.stop("SIGKILL"));
  await source?.close();
  await cp?.close();
});

/** A noop job from submit to its stored success, polling its row. */
async function jobRoundTrip(): Promise<number> {
  const started = performance.now();
  const res = await fetchApi(cp.url, "POST", `/api/v1/hosts/${hostId}/jobs`, { body: { kind: "noop", payload: {} }, headers: { cookie: cp.adminCookie } });
  assert.equal(res.status, 202);
  const { job } = res.body;
  for (;;) {
    const [row] = await cp.h.services.db.select({ status: jobs.status }).from(jobs).where(eq(jobs.id, job.id));
    if (row?.status === "succeeded") return performance.now() - started;
    assert.notEqual(row?.status, "failed");
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function roundTrips(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await jobRoundTrip());
  return out.sort((a, b) => a - b);
}

const p99 = (sorted: number[]) => sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]!;

// First: the agent's heap has not yet grown (and started to shrink) with bulk transfers, so its RSS measures the streams.
test("an idle stream costs under 64 KB on each side (1,000 held open)", async (t) => {
  const perStream = await idleStreamMemory(cp.streams, hostId, agent.pid!, 1000);
  t.diagnostic(`bytes per idle stream: hub ${Math.round(perStream.hub)}, agent ${Math.round(perStream.agent)}`);
  assert.ok(perStream.hub < 64 * 1024, `hub: ${perStream.hub} bytes per stream`);
  assert.ok(perStream.agent < 64 * 1024, `agent: ${perStream.agent} bytes per stream`);
  await until(() => cp.streams.streamCount === 0, 5000, "the hub forgot the idle streams");
});

// Behaviour, not speed: the control channel stays connected (heartbeats every 500 ms here) and
// answers jobs within seconds while the data connection is saturated. How much slower they get is a figure (the diagnostic and
// `npm run bench -- ingress-transport`), not a pass mark: on two shared cores the hub, the gateway and
// this test's reader compete for the same CPU.
const CONTROL_BOUND_MS = 2000;

test("jobs on the control channel keep answering while a large download runs through the streams", async (t) => {
  await roundTrips(3);
  const quiet = await roundTrips(30);
  const download = await dial(source.port);
  let bytes = 0;
  download.on("data", (chunk: Buffer) => (bytes += chunk.length));
  download.on("error", () => undefined);
  await until(() => bytes > 8 * 1024 * 1024, 20_000, "the download under way");
  const from = bytes;
  const busy = await roundTrips(30);
  const moved = bytes - from;
  download.destroy();
  const p50 = (sorted: number[]) => sorted[Math.floor(sorted.length / 2)]!.toFixed(1);
  t.diagnostic(
    `job round trip ms: quiet p50 ${p50(quiet)} p99 ${p99(quiet).toFixed(1)}, during the download p50 ${p50(busy)} p99 ${p99(busy).toFixed(1)}; ${(moved / 1e6).toFixed(0)} MB moved meanwhile`,
  );
  assert.ok(moved > 20 * 1024 * 1024, `the download kept going (${moved} bytes)`);
  assert.ok(cp.gateway.connectedHosts().includes(hostId), "the host is still connected after the download");
  assert.ok(p99(busy) < CONTROL_BOUND_MS, `p99 ${p99(busy).toFixed(1)} ms during the download vs ${p99(quiet).toFixed(1)} ms without`);
  await until(() => cp.streams.streamCount === 0, 5000, "the hub forgot the download");
});

test("the agent SIGKILLed mid-download: the client's stream ends within seconds, nothing stays registered, and a dial works once it is back", async () => {
  const download = await dial(source.port);
  let bytes = 0;
  download.on("data", (chunk: Buffer) => (bytes += chunk.length));
  const ended = closed(download);
  await until(() => bytes > 4 * 1024 * 1024, 20_000, "the download under way");
  const killedAt = Date.now();
  await agent.stop("SIGKILL");
  const error = await ended;
  assert.ok(error instanceof Error, "the client's stream ends with an error, not a clean (truncated) end");
  assert.ok(Date.now() - killedAt < 5000, `ended ${Date.now() - killedAt} ms after the kill`);
  assert.equal(cp.streams.streamCount, 0);
  await until(async () => (await new Promise<number>((r) => source.server.getConnections((_, n) => r(n)))) === 0, 5000, "the target's connections closed");

  agent.start();
  await until(connected, 30_000, "the agent back");
  const again = await dial(source.port);
  const some = await new Promise<Buffer>((resolve) => again.once("data", resolve));
  assert.ok(some.length > 0);
  again.destroy();
  await until(() => cp.streams.streamCount === 0, 5000, "the hub forgot the stream");
});

test("a deleted host's data connection is dropped, and its agent cannot open another", async () => {
  const deleted = await fetchApi(cp.url, "DELETE", `/api/v1/hosts/${hostId}`, { headers: { cookie: cp.adminCookie } });
  assert.equal(deleted.status, 204);
  assert.ok(cp.streams.connectedHosts().includes(hostId), "the agent's socket outlives its host row until the sweep");
  await cp.streams.dropDeletedHosts();
  await until(() => !cp.streams.connectedHosts().includes(hostId), 5000, "the data connection dropped");
  // The agent redials (backoff from 1 s): its credential names no host any more.
  await new Promise((r) => setTimeout(r, 3000));
  assert.ok(!cp.streams.connectedHosts().includes(hostId), "no data connection again");
  await assert.rejects(dial(source.port), /no data connection/);
});

/**
 * Faults of the ingress with a real agent process (`npm run agent`) carrying the streams, as
 * `npm start` wires it: the control plane's router reaches a published app (a node:http server on
 * loopback, which the agent may reach) through the agent's data connection to the hub. An agent
 * SIGKILLed mid-download, and 200 clients that stop reading.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { request, type IncomingMessage } from "node:http";
import { after, before, test } from "node:test";
import { STREAM_WINDOW } from "../../shared/streams/mux";
import { AppServer, pattern } from "../support/app-server";
import { startControlPlane, type RunningControlPlane } from "../support/control-plane";
import { signedInUser } from "../support/harness";
import { hostRequest, seedInstance, slowReaders } from "../support/ingress";
import type { Program } from "../support/processes";
import { agentProcess, heldMemory, newHost, rssOf, until } from "../support/streams";

let cp: RunningControlPlane;
let app: AppServer;
let agent: Program;
let hostId: string;
let host: string;

const MB = 1024 * 1024;
const dataConnected = () => cp.streams.connectedHosts().includes(hostId);

before(async () => {
  app = await AppServer.start();
  cp = await startControlPlane({ queue: "memory", dialer: "streams" });
  const enrolled = await newHost(cp, "faults");
  hostId = enrolled.hostId;
  agent = agentProcess(cp, enrolled.token);
  await until(dataConnected, 60_000, "the agent's data connection");
  const { cookie, userId } = await signedInUser(cp.h);
  await seedInstance(cp.h.services.db, userId, { hostId, ipv4: "127.0.0.1" });
  const name = `faults-${Math.random().toString(36).slice(2, 7)}`;
  const res = await cp.h.call("POST", "/api/v1/apps", { body: { name, port: app.port, access: "public" }, headers: { cookie } });
  assert.equal(res.status, 201, await res.text());
  host = `${name}.localhost:${new URL(cp.appsUrl).port}`;
});

after(async () => {
  await agent?.stop("SIGTERM").catch(() => agent.stop("SIGKILL"));
  await cp?.close();
  await app?.close();
});

/** GET `path` of the app through the router, the response handed over as it begins. */
function download(path: string): Promise<IncomingMessage> {
  const target = new URL(cp.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, path, headers: { host }, agent: false }, resolve);
    req.on("error", reject);
    req.end();
  });
}

/** Reads a response to its close: its bytes, their SHA-256, whether it was complete and the error it ended with. */
function drain(res: IncomingMessage, onBytes: (total: number) => void = () => undefined) {
  const hash = createHash("sha256");
  let bytes = 0;
  let error: Error | undefined;
  res.on("data", (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
    onBytes(bytes);
  });
  res.on("error", (err) => (error = err));
  return new Promise<{ bytes: number; sha256: string; complete: boolean; error: Error | undefined }>((resolve) =>
    res.once("close", () => resolve({ bytes, sha256: hash.digest("hex"), complete: res.complete, error })),
  );
}

// First: the agent's heap has not yet grown with the 200 MB download, so its RSS measures these streams.
test("200 clients that stop reading: backpressure holds the app back, the control plane and the agent stay bounded, and everything is released", async (t) => {
  const clients = 200;
  const size = 64 * MB;
  // One full download first, so lazily built code and pools are not counted as growth.
  const warm = drain(await download(`/big?size=${4 * MB}`));
  assert.equal((await warm).bytes, 4 * MB);
  await until(() => cp.streams.streamCount === 0, 5000, "the warm-up stream released");
  const heldBefore = await heldMemory();
  const agentBefore = rssOf(agent.pid!);

  const readers = await slowReaders(cp.url, host, `/big?size=${size}`, clients);
  try {
    assert.deepEqual(new Set(readers.statuses), new Set([200]), "every client got its response");
    assert.equal(cp.streams.streamCount, clients, "one stream per client");
    // The whole path is held back once the app has not been able to write for a while.
    let last = -1;
    await until(
      async () => {
        const now = app.downloadedBytes;
        const still = now === last;
        last = now;
        if (!still) await new Promise((r) => setTimeout(r, 1000));
        return still;
      },
      30_000,
      "the app's writes stalled by the readers",
    );
    const held = (await heldMemory()) - heldBefore;
    const agentGrowth = rssOf(agent.pid!) - agentBefore;
    const sent = app.downloadedBytes - 4 * MB;
    t.diagnostic(
      `${clients} stalled downloads of ${size / MB} MB: the app wrote ${(sent / MB).toFixed(0)} MB, control plane holds ${(held / MB).toFixed(1)} MB more ` +
        `(${Math.round(held / clients / 1024)} KB per client), agent RSS ${(agentGrowth / MB).toFixed(1)} MB more (${Math.round(agentGrowth / clients / 1024)} KB per client)`,
    );
    // What the control plane may hold for a reader that stopped: its stream's window, plus the
    // proxied response's buffers (the parser's and the client socket's: a high-water mark and a
    // 64 KB chunk each) and the objects of its connections (the app's too: it runs in this process,
    // its chunks views of one block). The rest waits in the kernel's socket buffers.
    const perClient = STREAM_WINDOW + 384 * 1024;
    assert.ok(held < clients * perClient, `the control plane holds ${held} bytes for ${clients} stalled clients (bound ${clients * perClient})`);
    // RSS, not a collected heap: it keeps what the allocator has not given back, hence the wider bound.
    assert.ok(agentGrowth < clients * MB, `the agent grew ${agentGrowth} bytes for ${clients} stalled clients`);
    // Most of what the app wrote sits in the kernel's buffers of its connection to the agent (MBs on loopback).
    assert.ok(sent < (clients * size) / 4, `the app was held back: it wrote ${sent} of the ${clients * size} bytes asked for`);
  } finally {
    readers.close();
  }
  await until(() => cp.streams.streamCount === 0, 10_000, "the hub released every stream");
  await until(() => app.openDownloads === 0, 10_000, "the app's responses closed");
});

// A client left hanging by the kill would wait forever: fail instead.
test("the agent SIGKILLed mid-download: the response ends within seconds, nothing stays open, the host answers 503 while it is down, and the URL works once it is back", { timeout: 60_000 }, async () => {
  const size = 200 * MB;
  let killed: Promise<void> | undefined;
  let killedAt = 0;
  const res = await download(`/big?size=${size}`);
  assert.equal(res.statusCode, 200);
  const ended = drain(res, (bytes) => {
    if (bytes < 8 * MB || killed) return;
    killedAt = Date.now();
    killed = agent.stop("SIGKILL");
  });
  const broken = await ended;
  const endedMs = Date.now() - killedAt;
  await killed;
  assert.ok(killedAt > 0, "the agent was killed mid-download");
  assert.ok(endedMs < 5000, `the response ended ${endedMs} ms after the kill`);
  assert.equal(broken.complete, false, "the client sees a broken response, not a clean (truncated) end");
  assert.ok(broken.error, "the response ended with an error");
  assert.ok(broken.bytes < size);

  assert.equal(cp.streams.streamCount, 0, "the hub holds no stream");
  assert.ok(!dataConnected(), "the hub dropped the dead agent's connection");
  await until(() => app.openDownloads === 0, 5000, "the app's response closed (the agent's connection to it is gone)");

  const offline = await hostRequest(cp.url, host);
  assert.equal(offline.status, 503);
  assert.match(offline.body.toString(), /host .* is not connected/);

  agent.start();
  await until(dataConnected, 30_000, "the agent back");
  const again = await download(`/big?size=${64 * MB}`);
  assert.equal(again.statusCode, 200);
  const whole = await drain(again);
  assert.equal(whole.bytes, 64 * MB);
  assert.equal(whole.sha256, pattern(64 * MB).sha256);
  await until(() => cp.streams.streamCount === 0 && app.openDownloads === 0, 5000, "the stream released on both sides");
});

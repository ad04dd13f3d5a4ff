import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";
import type { Agent } from "../../agent/agent";
import { DialError } from "../../functions/ingress/stream-dialer";
import { STREAM_WINDOW } from "../../shared/streams/mux";
import { bodyAt, fetchApi } from "../support/api";
import { startControlPlane, type RunningControlPlane } from "../support/control-plane";
import { agentInProcess, closed, echo, newHost, pong, pseudoRandom, readAll, sha256, tcpServer, until } from "../support/streams";

/** Streams through the hub of a real control plane and the Agent class, to TCP servers on loopback. */
let cp: RunningControlPlane;
let agent: Agent;
let hostId: string;
const servers: { close(): Promise<void> }[] = [];

async function server(handler: (socket: Socket) => void) {
  const s = await tcpServer(handler);
  servers.push(s);
  return s;
}

const dial = (port: number, address = "127.0.0.1") => cp.streams.dial({ hostId, address, port });

async function settled() {
  await until(() => cp.streams.streamCount === 0 && agent.streamCount === 0, 5000, `no streams left (hub ${cp.streams.streamCount}, agent ${agent.streamCount})`);
}

/**
 * A port whose SYNs go unanswered: a listener (python, since node accepts by itself) that never
 * accepts, its one-slot backlog filled by a connection of ours, so the kernel drops further SYNs.
 */
async function silentListener(): Promise<{ port: number; close(): void }> {
  const child = spawn("python3", ["-c", "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)"]);
  const port = Number((await once(child.stdout, "data"))[0].toString().trim());
  const fillers = [0, 1, 2].map(() => connect(port, "127.0.0.1").on("error", () => undefined));
  await new Promise((r) => setTimeout(r, 200));
  return {
    port,
    close: () => {
      for (const f of fillers) f.destroy();
      child.kill();
    },
  };
}

before(async () => {
  cp = await startControlPlane();
  const host = await newHost(cp);
  hostId = host.hostId;
  agent = await agentInProcess(cp, host.token, { targets: ["127.0.0.0/8"], connectTimeoutMs: 3000 });
  await until(() => cp.streams.connectedHosts().includes(hostId), 10_000, "the agent's data connection");
});
after(async () => {
  await agent?.stop();
  for (const s of servers) await s.close();
  await cp?.close();
});

describe("streams through the agent", () => {
  test("a request gets its response and both sides forget the stream", async () => {
    const target = await server(pong);
    const stream = await dial(target.port);
    stream.end("hello\n");
    assert.equal((await readAll(stream)).toString(), "pong:hello\n");
    await settled();
  });

  test("100 MB download arrives intact", async () => {
    const size = 100 * 1024 * 1024;
    const expected = await sha256(pseudoRandom(size));
    const target = await server((socket) => pseudoRandom(size).pipe(socket));
    const stream = await dial(target.port);
    stream.end();
    const got = await sha256(stream);
    assert.equal(got.bytes, size);
    assert.equal(got.sha, expected.sha);
    await settled();
  });

  test("echo both ways at once, then a half-close from the client ends the stream", async () => {
    const target = await server(echo);
    const stream = await dial(target.port);
    const payload = randomBytes(8 * 1024 * 1024);
    const reading = readAll(stream);
    for (let i = 0; i < payload.length; i += 100_000) {
      if (!stream.write(payload.subarray(i, i + 100_000))) await new Promise((r) => stream.once("drain", r));
    }
    stream.end();
    const back = await reading;
    assert.equal(back.length, payload.length);
    assert.ok(back.equals(payload));
    await settled();
  });

  test("200 concurrent streams each get their own answer", async () => {
    const target = await server(pong);
    const answers = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const stream = await dial(target.port);
        stream.end(`n${i}\n`);
        return (await readAll(stream)).toString();
      }),
    );
    answers.forEach((answer, i) => assert.equal(answer, `pong:n${i}\n`));
    await settled();
    assert.equal(await new Promise((r) => target.server.getConnections((_, n) => r(n))), 0, "no TCP connection left on the target");
  });

  test("dial failures name their reason: forbidden, refused, timeout, host_offline", async () => {
    const forbidden = ["10.0.0.1", "169.254.169.254", "0.0.0.0"];
    for (const address of forbidden) {
      await assert.rejects(dial(80, address), (err: unknown) => err instanceof DialError && err.reason === "forbidden", address);
    }
    const gone = await server(echo);
    await gone.close();
    await assert.rejects(dial(gone.port), (err: unknown) => err instanceof DialError && err.reason === "refused");
    const silent = await silentListener();
    try {
      await assert.rejects(dial(silent.port), (err: unknown) => err instanceof DialError && err.reason === "timeout");
    } finally {
      silent.close();
    }
    await assert.rejects(
      cp.streams.dial({ hostId: "00000000-0000-4000-8000-000000000000", address: "127.0.0.1", port: 80 }),
      (err: unknown) => err instanceof DialError && err.reason === "host_offline",
    );
    await settled();
  });

  test("the target closing with a reset ends the client's stream with an error, and the client's reset closes the target's socket", async () => {
    let targetSocket: Socket | undefined;
    const target = await server((socket) => {
      targetSocket = socket;
      socket.write("partial");
    });
    const stream = await dial(target.port);
    const ended = closed(stream);
    await until(() => targetSocket !== undefined, 2000, "the target's connection");
    targetSocket!.resetAndDestroy();
    assert.ok(await ended, "the client sees an error, not a clean end");
    await settled();

    const second = await dial(target.port);
    await until(() => targetSocket?.destroyed === false, 2000, "a second connection");
    const socket = targetSocket!;
    // The target allows half-open connections: the agent's close shows as an end (or an error).
    const socketEnded = new Promise((r) => socket.once("end", r).once("close", r));
    second.destroy();
    await socketEnded;
    await settled();
  });

  test("a reader that stops reading holds only its window in flight, and other streams keep flowing", async () => {
    let offered = 0;
    const slow = await server((socket) => {
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = () => {
        while (offered < 200 * 1024 * 1024) {
          offered += chunk.length;
          if (!socket.write(chunk)) return void socket.once("drain", pump);
        }
        socket.end();
      };
      pump();
    });
    const stalled = await dial(slow.port);
    stalled.pause();
    await new Promise((r) => setTimeout(r, 1500));
    const offeredWhilePaused = offered;
    assert.ok(stalled.readableLength <= STREAM_WINDOW, `buffered ${stalled.readableLength} > window`);
    // The rest sits in the kernel's socket buffers (a few MB on loopback), not in either process.
    assert.ok(offeredWhilePaused < 32 * 1024 * 1024, `the target could write ${offeredWhilePaused} bytes to a stalled reader`);

    // Were the stalled stream holding up the connection, this would never finish.
    const size = 8 * 1024 * 1024;
    const fast = await server((socket) => pseudoRandom(size, 3).pipe(socket));
    const other = await dial(fast.port);
    other.end();
    assert.equal((await sha256(other)).bytes, size);
    assert.ok(offered - offeredWhilePaused < 8 * 1024 * 1024, "the stalled stream stayed stalled");

    stalled.end();
    stalled.resume();
    await new Promise((r) => stalled.once("end", r));
    assert.equal(offered, 200 * 1024 * 1024);
    await settled();
  });

  test("write() says false when the peer's window is used up, and 'drain' follows once it reads", async () => {
    let targetSocket: Socket | undefined;
    const target = await server((socket) => {
      targetSocket = socket;
      socket.pause();
    });
    const stream = await dial(target.port);
    let accepted = 0;
    const chunk = Buffer.alloc(16 * 1024);
    while (stream.write(chunk)) {
      accepted += chunk.length;
      assert.ok(accepted < 64 * 1024 * 1024, "write() never said false");
      // Let the window fill: credit comes back only as the paused target's kernel buffers take bytes.
      if (accepted % (1024 * 1024) === 0) await new Promise((r) => setImmediate(r));
    }
    const drained = new Promise((r) => stream.once("drain", r));
    await until(() => targetSocket !== undefined, 2000, "the target's connection");
    targetSocket!.resume();
    targetSocket!.on("data", () => undefined);
    await drained;
    stream.destroy();
    await settled();
  });

  // A stream left hanging by the drop would wait forever: fail instead.
  test("when the data connection drops, every stream on it ends with an error and a new dial works after the agent is back", { timeout: 30_000 }, async () => {
    const target = await server(echo);
    const streams = await Promise.all(Array.from({ length: 5 }, () => dial(target.port)));
    const ends = streams.map(closed);
    await agent.stop();
    const errors = await Promise.all(ends);
    assert.ok(errors.every((e) => e instanceof Error), "every stream errored");
    await until(() => cp.streams.streamCount === 0, 2000, "the hub forgot the streams");
    await assert.rejects(dial(target.port), (err: unknown) => err instanceof DialError && err.reason === "host_offline");
    await agent.start();
    await until(() => cp.streams.connectedHosts().includes(hostId), 10_000, "the data connection again");
    const again = await dial(target.port);
    again.end("back");
    assert.equal((await readAll(again)).toString(), "back");
    await settled();
  });
});

describe("the stream endpoint", () => {
  test("a wrong credential is refused with 401, an unknown upgrade path with 404", async () => {
    const status = (path: string, credential?: string) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`${cp.url.replace("http", "ws")}${path}`, credential ? { headers: { authorization: `Bearer ${credential}` } } : {});
        ws.once("open", () => {
          ws.close();
          resolve(101);
        });
        ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        ws.once("error", reject);
      });
    assert.equal(await status("/agent/v1/streams", "kws_host_wrong"), 401);
    assert.equal(await status("/agent/v1/streams"), 401);
    assert.equal(await status("/somewhere/else"), 404);
  });

  test("a frame that breaks the protocol closes that data connection with 1002", async () => {
    const host = await newHost(cp, "garbage");
    const { credential } = bodyAt(await fetchApi(cp.url, "POST", "/api/v1/agent/enroll", { body: { token: host.token } }), 201);
    const ws = new WebSocket(`${cp.url.replace("http", "ws")}/agent/v1/streams`, { headers: { authorization: `Bearer ${credential}` } });
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    await until(() => cp.streams.connectedHosts().includes(host.hostId), 2000, "the raw data connection");
    const code = new Promise<number>((resolve) => ws.once("close", resolve));
    ws.send(Buffer.from([99, 0, 0, 0, 1]));
    assert.equal(await code, 1002);
    await until(() => !cp.streams.connectedHosts().includes(host.hostId), 2000, "the hub dropped it");
  });
});

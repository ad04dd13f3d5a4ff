import { spawn } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, type Duplex } from "node:stream";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { Agent, type AgentOptions } from "../../agent/agent";
import { enroll } from "../../agent/enroll";
import { StateDir } from "../../agent/state";
import type { StreamHub } from "../../functions/streams/hub";
import { createLogger } from "../../shared/logger";
import { bodyAt, fetchApi } from "./api";
import type { RunningControlPlane } from "./control-plane";
import { Program } from "./processes";

/** A host created and enrolled through the admin API; the token is for `kws-agent --enroll`. */
export async function newHost(cp: RunningControlPlane, prefix = "streams"): Promise<{ hostId: string; token: string }> {
  const name = `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
  const body = bodyAt(await fetchApi(cp.url, "POST", "/api/v1/hosts", { body: { name }, headers: { cookie: cp.adminCookie } }), 201);
  return { hostId: body.host.id, token: body.enrollmentToken };
}

/** `npm run agent` as a real process, enrolled with `token`, streams allowed to loopback. */
export function agentProcess(cp: RunningControlPlane, token: string, extraArgs: string[] = []): Program {
  const dir = mkdtempSync(join(tmpdir(), "kws-streams-agent-"));
  const agent = new Program("agent", "agent/main.ts", ["--gateway", cp.url, "--state-dir", dir, "--stream-targets", "127.0.0.0/8", ...extraArgs], {
    KWS_WIREGUARD: "off",
    LOG_LEVEL: "warn",
  });
  return agent.start(["--enroll", token]);
}

/** The Agent class in this process (no LXD, no WireGuard), so a test can read its stream count. */
export async function agentInProcess(cp: RunningControlPlane, token: string, streams: NonNullable<AgentOptions["streams"]>): Promise<Agent> {
  const stateDir = mkdtempSync(join(tmpdir(), "kws-streams-agent-"));
  const credential = await enroll({ gatewayUrl: cp.url, token, state: new StateDir({ dir: stateDir }) });
  const agent = new Agent({
    stateDir,
    credential,
    gatewayUrl: cp.url,
    agentVersion: "test",
    logger: createLogger({ service: "kws-agent" }, { level: "error" }),
    lxdSocketCandidates: [],
    streams,
  });
  await agent.start();
  return agent;
}

/** Stops the agent process and starts it again (same state), until its data connection is back. */
export async function restartAgent(cp: RunningControlPlane, agent: Program, hostId: string): Promise<void> {
  await agent.stop("SIGTERM");
  await until(() => !cp.streams.connectedHosts().includes(hostId), 10_000, "the agent's data connection to close");
  agent.start();
  await until(() => cp.streams.connectedHosts().includes(hostId), 30_000, "the agent's data connection, again");
}

export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A TCP server on 127.0.0.1 that hands each connection to `onConnection`. */
export async function tcpServer(onConnection: (socket: Socket) => void): Promise<{ port: number; server: Server; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    server,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Echoes every byte and half-closes when the client does. */
export const echo = (socket: Socket) => socket.pipe(socket);

/** `bytes` deterministic pseudo-random bytes (AES-CTR over zeros), in 64 KiB chunks. */
export function pseudoRandom(bytes: number, seed = 1): Readable {
  const key = Buffer.alloc(16, seed);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  const zeros = Buffer.alloc(64 * 1024);
  let left = bytes;
  return new Readable({
    read() {
      while (left > 0) {
        const n = Math.min(left, zeros.length);
        left -= n;
        if (!this.push(cipher.update(zeros.subarray(0, n)))) return;
      }
      this.push(null);
    },
  });
}

export async function sha256(stream: Readable | Duplex): Promise<{ sha: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha: hash.digest("hex"), bytes };
}

/** Everything a stream says until it ends. */
export async function readAll(stream: Readable | Duplex): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Resolves with the error a stream closed with (undefined when it closed cleanly). */
export function closed(stream: Duplex): Promise<Error | undefined> {
  if (stream.destroyed) return Promise.resolve(stream.errored ?? undefined);
  return new Promise((resolve) => {
    let error: Error | undefined;
    stream.on("error", (err) => (error = err));
    stream.once("close", () => resolve(error));
  });
}

/** Answers each line `x` with `pong:x` and closes. */
export function pong(socket: Socket) {
  let text = "";
  socket.on("data", (chunk: Buffer) => {
    text += chunk.toString();
    const newline = text.indexOf("\n");
    if (newline >= 0) socket.end(`pong:${text.slice(0, newline)}\n`);
  });
}

/** A target in a process of its own (python) that accepts connections and holds them, idle. */
export async function holdingTarget(): Promise<{ port: number; close(): void }> {
  const code = [
    "import socket,selectors",
    "s=socket.socket()",
    "s.bind(('127.0.0.1',0))",
    "s.listen(4096)",
    "print(s.getsockname()[1],flush=True)",
    "held=[]",
    "while True:",
    "  c,_=s.accept()",
    "  held.append(c)",
  ].join("\n");
  const child = spawn("python3", ["-c", code], { stdio: ["ignore", "pipe", "inherit"] });
  const port = Number((await once(child.stdout!, "data"))[0].toString().trim());
  return { port, close: () => child.kill() };
}

/** A full collection, so that heap figures count live objects only. */
export function collectGarbage(): void {
  v8.setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

/**
 * Bytes this process holds (its heap, and memory outside it such as Buffers) after full
 * collections: the least of a few, since other work of the process (heartbeats, pools) comes and
 * goes. `external` already includes `arrayBuffers` (every Buffer), so that one is not added again.
 */
export async function heldMemory(): Promise<number> {
  let least = Infinity;
  for (let i = 0; i < 3; i++) {
    collectGarbage();
    const m = process.memoryUsage();
    least = Math.min(least, m.heapUsed + m.external);
    await new Promise((r) => setTimeout(r, 100));
  }
  return least;
}

export function rssOf(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)\s+kB/);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/**
 * Bytes per idle stream held open through `hub` to a holding target: on the hub's side (this
 * process's heap and buffers after a full collection) and on the agent's (its process's RSS).
 */
export async function idleStreamMemory(hub: StreamHub, hostId: string, agentPid: number, count = 1000): Promise<{ hub: number; agent: number }> {
  const target = await holdingTarget();
  // One stream first, so lazily built code and buffers are not counted per stream.
  const warm = await hub.dial({ hostId, address: "127.0.0.1", port: target.port });
  await new Promise((r) => setTimeout(r, 500));
  const hubBefore = await heldMemory();
  const agentBefore = rssOf(agentPid);
  const streams: Duplex[] = [warm];
  for (let i = 0; i < count; i += 50) {
    streams.push(...(await Promise.all(Array.from({ length: Math.min(50, count - i) }, () => hub.dial({ hostId, address: "127.0.0.1", port: target.port })))));
  }
  await new Promise((r) => setTimeout(r, 1000));
  const result = { hub: ((await heldMemory()) - hubBefore) / count, agent: (rssOf(agentPid) - agentBefore) / count };
  for (const s of streams) s.destroy();
  target.close();
  return result;
}

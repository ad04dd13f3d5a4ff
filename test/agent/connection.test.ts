/**
 * The agent's gateway connection against a small real websocket server playing the gateway.
 */
import { test, describe, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { IncomingMessage, Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket, { WebSocketServer } from "ws";
import { createLogger } from "../../shared/logger";
import { AgentMessageSchema, PROTOCOL_VERSION, stamp } from "../../shared/protocol/messages";
import type { AgentMessage, Command, GatewayMessageBody, WireGuardPeersAnswer } from "../../shared/protocol/messages";
import { Connection } from "../../agent/connection";
import type { ConnectionOptions } from "../../agent/connection";
import { Journal } from "../../agent/journal";

const CREDENTIAL = "good-credential";
const HOST_ID = randomUUID();
const dir = mkdtempSync(join(tmpdir(), "kws-connection-"));

async function until<T>(what: string, probe: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

class GatewayConnection {
  readonly messages: AgentMessage[] = [];
  readonly invalid: string[] = [];
  closeCode: number | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly request: IncomingMessage,
    onHello: (conn: GatewayConnection) => void,
  ) {
    ws.on("message", (data) => {
      const text = String(data);
      const parsed = AgentMessageSchema.safeParse(JSON.parse(text));
      if (!parsed.success) {
        this.invalid.push(text);
        return;
      }
      this.messages.push(parsed.data);
      if (parsed.data.type === "hello") onHello(this);
    });
    ws.on("close", (code) => (this.closeCode = code));
    // The agent terminating is part of several tests: a reset is expected, not a failure.
    ws.on("error", () => {});
  }

  send(body: GatewayMessageBody | string): void {
    this.ws.send(typeof body === "string" ? body : JSON.stringify(stamp(body)));
  }

  of<T extends AgentMessage["type"]>(type: T): Extract<AgentMessage, { type: T }>[] {
    return this.messages.filter((m): m is Extract<AgentMessage, { type: T }> => m.type === type);
  }

  next<T extends AgentMessage["type"]>(type: T, index = 0): Promise<Extract<AgentMessage, { type: T }>> {
    return until(`${type} #${index + 1}`, () => this.of(type)[index]);
  }

  welcome(heartbeatMs = 15_000, protocol = "1.0"): void {
    this.send({ type: "welcome", protocol, hostId: HOST_ID, hostName: "test-host", heartbeatMs });
  }

  closed(): Promise<number> {
    return until("close", () => this.closeCode);
  }
}

/** Plays the gateway: 401 for a wrong credential, otherwise a websocket whose hello goes to `onHello`. */
class FakeGateway {
  readonly connections: GatewayConnection[] = [];
  rejected = 0;
  onHello: (conn: GatewayConnection) => void = () => {};
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true });

  constructor() {
    this.server = createServer((_req, res) => res.writeHead(404).end());
    this.server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      socket.on("error", () => {});
      if (req.url !== "/base/agent/v1/connect") {
        socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      if (req.headers.authorization !== `Bearer ${CREDENTIAL}`) {
        this.rejected += 1;
        const body = JSON.stringify({ error: { code: "unauthorized", message: "unknown host credential", requestId: "r1" } });
        socket.end(
          `HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.connections.push(new GatewayConnection(ws, req, (conn) => this.onHello(conn)));
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/base/`;
  }

  connection(index: number): Promise<GatewayConnection> {
    return until(`connection #${index + 1}`, () => this.connections[index]);
  }

  reset(): void {
    for (const c of this.connections) c.ws.terminate();
    this.connections.length = 0;
    this.rejected = 0;
    this.onHello = () => {};
  }

  async close(): Promise<void> {
    this.reset();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

type LogLine = { level: string; msg: string; state?: string; retryInMs?: number; hostId?: string; [k: string]: unknown };

describe("agent connection", () => {
  const gateway = new FakeGateway();
  let url = "";
  let logs: LogLine[] = [];
  let journal: Journal;
  let connection: Connection | undefined;
  const commands: Command[] = [];

  function connect(options: Partial<ConnectionOptions> = {}): Connection {
    connection = new Connection({
      gatewayUrl: url,
      credential: CREDENTIAL,
      hostId: HOST_ID,
      agentVersion: "9.9.9-test",
      journal,
      lxdStatus: () => ({ lxdVersion: null, degradedReason: "no LXD socket found" }),
      facts: async () => ({ cpus: 2, memoryBytes: 1024, diskFreeBytes: 2048, runningInstances: 0, instances: 0 }),
      onCommand: (command) => commands.push(command),
      logger: createLogger({}, { write: (line) => logs.push(JSON.parse(line) as LogLine) }),
      backoff: { initialMs: 20, maxMs: 200 },
      random: () => 0.5,
      ...options,
    });
    connection.start();
    return connection;
  }

  before(async () => {
    url = await gateway.listen();
    journal = new Journal({ path: join(dir, "journal.jsonl"), logger: createLogger({}, { write: () => {} }) });
    await journal.start();
  });

  afterEach(async () => {
    await connection?.stop();
    connection = undefined;
    gateway.reset();
    logs = [];
    commands.length = 0;
  });

  after(async () => {
    await journal.stop();
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("hello with the credential, welcome, then facts and commands; stop closes with 1001", async () => {
    const agent = connect();
    const conn = await gateway.connection(0);
    assert.equal(conn.request.headers.authorization, `Bearer ${CREDENTIAL}`);
    const hello = await conn.next("hello");
    assert.equal(hello.protocol, PROTOCOL_VERSION);
    assert.equal(hello.agentVersion, "9.9.9-test");
    assert.equal(hello.lxdVersion, null);
    assert.equal(hello.degradedReason, "no LXD socket found");

    assert.equal(agent.send({ type: "progress", jobId: randomUUID(), step: "x", message: "before welcome" }), false);
    conn.welcome();
    const facts = await conn.next("facts");
    assert.equal(facts.facts.cpus, 2);
    assert.equal(agent.current, "ready");

    const jobId = randomUUID();
    conn.send({ type: "command", jobId, attempt: 1, kind: "noop", payload: {}, deadline: new Date(Date.now() + 60_000).toISOString() });
    await until("command", () => commands.find((c) => c.jobId === jobId));

    const states = logs.filter((l) => l.state).map((l) => l.state);
    assert.deepEqual(states, ["connecting", "open", "ready"]);
    assert.ok(logs.every((l) => l.hostId === HOST_ID), "every line names the host");

    await agent.stop();
    assert.equal(await conn.closed(), 1001);
  });

  test("a welcome arriving while stop() closes the socket does not revive the connection", async () => {
    const agent = connect();
    const conn = await gateway.connection(0);
    await conn.next("hello");
    const stopping = agent.stop();
    conn.welcome();
    await stopping;
    assert.equal(await conn.closed(), 1001);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(agent.current, "stopped");
    assert.equal(gateway.connections.length, 1, "no redial after stop");
  });

  test("each welcome lets the agent ask for its WireGuard peers, unless the gateway is older than 1.1; answers reach it", async () => {
    const asked: (string | undefined)[] = [];
    const answers: WireGuardPeersAnswer[] = [];
    gateway.onHello = (conn) => conn.welcome(15_000, gateway.connections.length === 1 ? "1.0" : "1.1");
    const agent: Connection = connect({
      onWelcome: () => asked.push(agent.request({ type: "wg-peers-request" })),
      onWireGuardPeers: (answer) => answers.push(answer),
    });
    assert.equal(agent.request({ type: "wg-peers-request" }), undefined, "nothing goes out before a welcome");

    const old = await gateway.connection(0);
    await old.next("facts");
    assert.deepEqual(asked, [undefined], "a 1.0 gateway would refuse the message: it is not sent");
    old.ws.close(1011, "gateway upgraded");

    const current = await gateway.connection(1);
    const request = await current.next("wg-peers-request");
    assert.deepEqual(asked, [undefined, request.id]);
    const peers = [{ publicKey: Buffer.alloc(32, 1).toString("base64"), address: "10.8.0.2/32", ownerAddress: "172.30.0.11" }];
    current.send({ type: "wg-peers", requestId: request.id, peers });
    const answer = await until("the answer", () => answers[0]);
    assert.equal(answer.requestId, request.id);
    assert.deepEqual(answer.peers, peers);
    assert.equal(old.of("wg-peers-request").length + old.invalid.length, 0);
  });

  test("a malformed frame gets an error reply and the connection stays", async () => {
    connect();
    const conn = await gateway.connection(0);
    await conn.next("hello");
    conn.welcome();
    await conn.next("facts");

    conn.send("this is not json");
    assert.equal((await conn.next("error", 0)).message, "frame is not JSON");
    conn.send(JSON.stringify({ v: 1, id: "x1", type: "command", jobId: "not-a-uuid" }));
    assert.match((await conn.next("error", 1)).message, /^invalid message: /);
    conn.send(JSON.stringify({ v: 7, id: "x2", type: "ack", jobId: randomUUID() }));
    assert.match((await conn.next("error", 2)).message, /protocol major version 7/);
    assert.ok(logs.some((l) => l.msg === "malformed frame from the gateway"));

    const jobId = randomUUID();
    conn.send({ type: "command", jobId, attempt: 1, kind: "noop", payload: {}, deadline: new Date(Date.now() + 60_000).toISOString() });
    await until("command after malformed frames", () => commands.find((c) => c.jobId === jobId));
    assert.equal(gateway.connections.length, 1, "still the first connection");
    assert.equal(conn.ws.readyState, WebSocket.OPEN);
  });

  test("refused: the agent reconnects with backoff and is welcomed the next time", async () => {
    gateway.onHello = (conn) => {
      if (gateway.connections.length === 1) {
        conn.send({ type: "refused", reason: "another agent of this host is connected" });
        conn.ws.close(4000, "refused");
      } else {
        conn.welcome();
      }
    };
    const agent = connect();
    const second = await gateway.connection(1);
    await second.next("facts");
    assert.equal(agent.current, "ready");
    const refusal = logs.find((l) => l.msg === "the gateway refused this agent");
    assert.equal(refusal?.reason, "another agent of this host is connected");
    const waiting = logs.find((l) => l.state === "waiting");
    assert.equal(waiting?.retryInMs, 15, "equal jitter of the first 20 ms step");
    assert.equal(waiting?.failure, "refused: another agent of this host is connected");
  });

  test("401 on upgrade: retries with capped backoff, one loud error, no crash", async () => {
    const agent = connect({ credential: "wrong", random: () => 1 });
    await until("6 rejected upgrades", () => (gateway.rejected >= 6 ? true : undefined));
    const delays = logs.filter((l) => l.state === "waiting").map((l) => l.retryInMs);
    assert.deepEqual(delays.slice(0, 5), [20, 40, 80, 160, 200]);
    const loud = logs.filter((l) => l.level === "error");
    assert.equal(loud.length, 1, "logged loudly once per minute, not per attempt");
    assert.match(loud[0]?.msg ?? "", /re-enroll/);
    assert.equal(loud[0]?.status, 401);
    assert.equal(loud[0]?.gatewayMessage, "unknown host credential");
    assert.ok(logs.some((l) => l.failure === "HTTP 401: unknown host credential"));
    assert.notEqual(agent.current, "ready");
  });

  test("backoff restarts from the first step after a connection that stayed up", async () => {
    gateway.onHello = (conn) => {
      conn.welcome();
      setTimeout(() => conn.ws.close(1011, "gateway restarting"), gateway.connections.length === 3 ? 150 : 0).unref();
    };
    connect({ random: () => 1, backoff: { initialMs: 20, maxMs: 200, resetAfterMs: 100 } });
    await gateway.connection(3);
    const delays = logs.filter((l) => l.state === "waiting").map((l) => l.retryInMs);
    assert.deepEqual(delays.slice(0, 3), [20, 40, 20]);
  });

  test("unacked results are resent after every welcome until the gateway acks them", async () => {
    const pending = { type: "result" as const, jobId: randomUUID(), ok: true as const, data: { n: 1 } };
    await journal.record(pending);
    gateway.onHello = (conn) => conn.welcome();
    connect();

    const first = await gateway.connection(0);
    assert.equal((await first.next("result")).jobId, pending.jobId);
    first.ws.close(1011, "lost before storing");

    const second = await gateway.connection(1);
    assert.equal((await second.next("result")).jobId, pending.jobId, "resent after the reconnect");
    second.send({ type: "ack", jobId: pending.jobId });
    await until("ack in the journal", () => (journal.get(pending.jobId)?.acked ? true : undefined));
    second.ws.close(1011, "again");

    const third = await gateway.connection(2);
    await third.next("facts");
    assert.deepEqual(third.of("result"), [], "an acked result is not resent");
  });

  test("progress sent while disconnected goes out after the next welcome, before the job's result", async () => {
    const jobId = randomUUID();
    gateway.onHello = (conn) => conn.welcome();
    const c = connect();
    const first = await gateway.connection(0);
    await first.next("facts");
    first.ws.close(1011, "gateway restarting");
    await until("disconnected", () => (c.send({ type: "progress", jobId, step: "create", message: "while away" }) ? undefined : true));
    const result = { type: "result" as const, jobId, ok: true as const, data: {} };
    await journal.record(result);
    c.send(result);

    const second = await gateway.connection(1);
    await second.next("result");
    const order = second.messages.filter((m) => m.type === "progress" || m.type === "result").map((m) => m.type);
    assert.deepEqual(order, ["progress", "result"]);
    assert.equal(second.of("progress")[0]?.step, "create");
    second.send({ type: "ack", jobId });
    await until("acked", () => (journal.get(jobId)?.acked ? true : undefined));
  });

  test("watchdog: a silent gateway is dropped and redialled; pings keep it alive", async () => {
    gateway.onHello = (conn) => {
      conn.welcome(50);
      if (gateway.connections.length !== 2) return;
      const pinger = setInterval(() => conn.ws.ping(), 50);
      conn.ws.on("close", () => clearInterval(pinger));
    };
    const started = Date.now();
    connect({ watchdogMs: 200 });
    const first = await gateway.connection(0);
    await gateway.connection(1);
    assert.ok(Date.now() - started >= 200, "not before the watchdog time");
    assert.ok(logs.some((l) => l.msg === "connection is silent: dropping it"));
    assert.equal(await first.closed(), 1006, "terminated, not closed politely");

    await new Promise((r) => setTimeout(r, 700));
    assert.equal(gateway.connections.length, 2, "pings kept the second connection up");
  });
});

/**
 * The agent's WireGuard side on a real interface (wireguard-go where the kernel has no module),
 * real nftables and real network namespaces. Needs root, wg, wireguard-go and nft
 * (scripts/host-setup.sh installs them); without them the tests fail on purpose.
 * Interface, table, namespaces and subnets are named per run, so a real wg0 is never touched.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { createLogger } from "../../shared/logger";
import { commandSchemas } from "../../shared/protocol/commands";
import type { CommandResult } from "../../shared/protocol/commands";
import type { Command } from "../../shared/protocol/messages";
import type { WireGuardPeer } from "../../shared/protocol/wireguard";
import { Executor } from "../../agent/executor";
import { Journal } from "../../agent/journal";
import type { ResultBody } from "../../agent/journal";
import { createHandlers } from "../../agent/handlers";
import { generateKeyPair } from "../../shared/crypto/x25519";
import { WireGuard } from "../../agent/wireguard/manager";
import { PeerRefresh } from "../../agent/wireguard/peer-refresh";
import { Namespace } from "../support/netns";

const id = randomBytes(3).toString("hex");
const IF = `kwst${id}`;
const TABLE = `kwst${id}`;
// Per-run subnets: the tunnel in 10.213.N.0/24, the namespaces' links in 10.214.N.0/24.
const n = randomInt(0, 256);
const tunnel = (host: number) => `10.213.${n}.${host}`;
const link = (host: number) => `10.214.${n}.${host}`;
const PORT = randomInt(40_000, 60_000);
const config = { interfaceName: IF, address: `${tunnel(1)}/24`, listenPort: PORT, table: TABLE };

const dir = mkdtempSync(join(tmpdir(), "kws-wireguard-"));
const stateDir = join(dir, "state");
mkdirSync(stateDir, { mode: 0o700 }); // the agent's StateDir makes it before anything else
const logger = createLogger({ test: "wireguard" }, { level: "warn", write: () => {} });

function sh(file: string, args: string[], input?: string): string {
  return execFileSync(file, args, { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], ...(input === undefined ? {} : { input }) });
}

function quietly(f: () => unknown): void {
  try {
    f();
  } catch {
    // already gone
  }
}

type DumpPeer = { allowedIps: string; endpoint: string; handshake: number; rx: number; keepalive: string };

function dump(name = IF): { publicKey: string; listenPort: number; peers: Map<string, DumpPeer> } {
  const [head = "", ...lines] = sh("wg", ["show", name, "dump"]).trim().split("\n");
  const [, publicKey = "", port] = head.split("\t");
  const peers = new Map<string, DumpPeer>();
  for (const line of lines) {
    const [key = "", , endpoint = "", allowedIps = "", handshake, rx, , keepalive = ""] = line.split("\t");
    peers.set(key, { allowedIps, endpoint, handshake: Number(handshake), rx: Number(rx), keepalive });
  }
  return { publicKey, listenPort: Number(port), peers };
}

/** The set's elements as "device . owner" strings. */
function firewallPairs(): string[] {
  const json = JSON.parse(sh("nft", ["-j", "list", "set", "inet", TABLE, "device_owner"])) as {
    nftables: { set?: { elem?: { concat: string[] }[] } }[];
  };
  const elems = json.nftables.find((x) => x.set)?.set?.elem ?? [];
  return elems.map((e) => e.concat.join(" . ")).sort();
}

const keyOf = () => generateKeyPair().publicKey;
const peer = (host: number, ownerAddress: string | null, publicKey = keyOf()): WireGuardPeer => ({
  publicKey,
  address: `${tunnel(host)}/32`,
  ownerAddress,
});

// ---------------------------------------------------------------- the executor, as the gateway drives it

class Agent {
  readonly sent: ResultBody[] = [];
  private readonly executor: Executor;
  private readonly journal: Journal;

  constructor(readonly wireguard: WireGuard) {
    this.journal = new Journal({ path: join(dir, `journal-${randomUUID()}.jsonl`), logger });
    this.executor = new Executor({
      journal: this.journal,
      handlers: createHandlers({ stateDir, storagePool: "default", wireguard }),
      lxd: () => ({ reason: "not needed" }),
      send: (m) => {
        if (m.type === "result") this.sent.push(m);
      },
      logger,
    });
  }

  async start(): Promise<this> {
    await this.journal.start();
    this.executor.start();
    return this;
  }

  async stop(): Promise<void> {
    this.wireguard.stop();
    await this.journal.stop();
  }

  async run(kind: string, payload: unknown): Promise<ResultBody> {
    const jobId = randomUUID();
    const command: Command = {
      v: 1,
      id: jobId.slice(0, 8),
      type: "command",
      jobId,
      attempt: 1,
      kind,
      payload: payload as Record<string, unknown>,
      deadline: new Date(Date.now() + 60_000).toISOString(),
    };
    this.executor.submit(command);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const found = this.sent.find((r) => r.jobId === jobId);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no result for ${kind} within 30 s`);
      await delay(10);
    }
  }

  async ok<K extends keyof typeof commandSchemas>(kind: K, payload: unknown): Promise<CommandResult<K>> {
    const result = await this.run(kind, payload);
    assert.equal(result.ok, true, `${kind} failed: ${JSON.stringify(result)}`);
    return (result as Extract<ResultBody, { ok: true }>).data as CommandResult<K>;
  }

  async fails(kind: string, payload: unknown): Promise<{ code: string; message: string }> {
    const result = await this.run(kind, payload);
    assert.equal(result.ok, false, `${kind} should fail: ${JSON.stringify(result)}`);
    return (result as Extract<ResultBody, { ok: false }>).error;
  }
}

function startWireGuard(): Promise<WireGuard> {
  const wireguard = new WireGuard({ config, stateDir, logger, reconcileIntervalMs: 3_600_000 });
  return wireguard.start().then(() => wireguard);
}

// ---------------------------------------------------------------- namespaces for the end-to-end test

const NS = { client: `kwst${id}c`, owner: `kwst${id}o`, other: `kwst${id}x` };
const CLIENT_IF = `kwst${id}w`;
const spaces: Namespace[] = [];

/** A namespace joined to the host by a veth pair: host side .{base}/30 + 1, namespace side + 2. */
function namespace(name: string, base: number): Namespace {
  const ns = Namespace.create(name, link(base + 1), link(base + 2), { defaultRoute: true });
  spaces.push(ns);
  return ns;
}

after(async () => {
  // Explicitly: wireguard-go keeps its namespace alive, so deleting the namespace alone would leave it running.
  quietly(() => sh("ip", ["-n", NS.client, "link", "del", CLIENT_IF]));
  for (const ns of spaces) ns.destroy();
  quietly(() => sh("ip", ["link", "del", IF]));
  quietly(() => sh("nft", ["delete", "table", "inet", TABLE]));
  rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- tests

describe("WireGuard payloads", () => {
  const good = peer(2, "172.30.0.11");
  const add = commandSchemas["wg.peer.add"].payload;

  test("keys must be base64 of exactly 32 bytes, canonical: anything else is refused by the schema", () => {
    assert.ok(add.safeParse(good).success);
    const bad = [
      "",
      good.publicKey.slice(0, -2) + "==", // 31 bytes
      Buffer.alloc(33, 7).toString("base64"), // 33 bytes
      good.publicKey.slice(0, -2) + "B=", // non-canonical padding bits
      good.publicKey.replace(/=$/, ""), // unpadded
      `${good.publicKey}\n`,
      ` ${good.publicKey}`,
      "-h".padEnd(44, "A"),
      good.publicKey.replace(/^./, "-"),
      `${Buffer.alloc(32, 0xff).toString("base64url")}=`, // base64url alphabet
    ];
    for (const publicKey of bad) assert.equal(add.safeParse({ ...good, publicKey }).success, false, JSON.stringify(publicKey));
    assert.equal(commandSchemas["wg.peer.remove"].payload.safeParse({ publicKey: "x" }).success, false);
  });

  test("a device address is one IPv4 /32, the owner a plain IPv4 or null; no extra fields", () => {
    for (const address of ["10.8.0.2", "10.8.0.0/24", "10.8.0.2/31", "10.8.0.02/32", "::1/128", "10.8.0.2/32 ", "10.8.0.2/32,0.0.0.0/0"]) {
      assert.equal(add.safeParse({ ...good, address }).success, false, address);
    }
    for (const ownerAddress of ["172.30.0.11/32", "", "172.30.0.256", "host"]) {
      assert.equal(add.safeParse({ ...good, ownerAddress }).success, false, ownerAddress);
    }
    assert.ok(add.safeParse({ ...good, ownerAddress: null }).success);
    assert.equal(add.safeParse({ ...good, endpoint: "1.2.3.4:5" }).success, false);
  });

  test("a sync set may not give a key or an address twice", () => {
    const sync = commandSchemas["wg.sync"].payload;
    const other = peer(3, null);
    assert.ok(sync.safeParse({ peers: [good, other] }).success);
    assert.equal(sync.safeParse({ peers: [good, { ...other, publicKey: good.publicKey }] }).success, false);
    assert.equal(sync.safeParse({ peers: [good, { ...other, address: good.address }] }).success, false);
  });
});

describe("WireGuard on a real interface", () => {
  let agent: Agent;
  const owner = link(6); // the "container" namespace's address, used from the end-to-end test on
  const a = peer(2, owner);
  const b = peer(3, "172.30.0.12");
  const c = peer(4, null);

  before(async () => {
    assert.equal(process.getuid?.(), 0, "these tests need root (interfaces, nftables, namespaces)");
    agent = await new Agent(await startWireGuard()).start();
  });

  after(() => agent?.stop());

  test("start makes the interface with its address, port and a key kept 0600 in the state dir; facts carry the public key", async () => {
    const facts = agent.wireguard.facts();
    assert.ok(facts);
    const keyFile = join(stateDir, `wireguard-${IF}.key`);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.ok(!JSON.stringify(facts).includes(readFileSync(keyFile, "utf8").trim()), "the private key is not in the facts");
    const d = dump();
    assert.equal(d.publicKey, facts.publicKey);
    assert.equal(d.listenPort, PORT);
    assert.match(sh("ip", ["-4", "-o", "address", "show", "dev", IF]), new RegExp(`inet ${tunnel(1).replaceAll(".", "\\.")}/24`));
    assert.match(sh("ip", ["-o", "link", "show", "dev", IF]), /[<,]UP[,>]/);
    assert.equal(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim(), "1");

    const hostFacts = await agent.ok("host.facts", {});
    assert.deepEqual(hostFacts.wireguard, { interface: IF, publicKey: facts.publicKey, listenPort: PORT, address: `${tunnel(1)}/24`, endpoint: null });
  });

  test("wg.sync puts exactly the desired peers on the interface, and the rules map each device to its owner", async () => {
    const result = await agent.ok("wg.sync", { peers: [a, b, c] });
    assert.deepEqual(result, { added: 3, updated: 0, removed: 0, unchanged: 0 });
    const { peers } = dump();
    assert.equal(peers.size, 3);
    for (const p of [a, b, c]) assert.equal(peers.get(p.publicKey)?.allowedIps, p.address);
    assert.deepEqual(firewallPairs(), [`${tunnel(2)} . ${owner}`, `${tunnel(3)} . 172.30.0.12`].sort(), "a device without owner reaches nothing");

    const saved = join(stateDir, `wireguard-${IF}-peers.json`);
    assert.equal(statSync(saved).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(saved, "utf8")).peers, [a, b, c]);

    assert.deepEqual(await agent.ok("wg.sync", { peers: [a, b, c] }), { added: 0, updated: 0, removed: 0, unchanged: 3 }, "idempotent");
  });

  test("a later sync touches only what differs: unchanged peers keep their state, removed ones are gone", async () => {
    // State a live session would have: a learned endpoint and a keepalive, lost if the peer were re-added.
    sh("wg", ["set", IF, "peer", a.publicKey, "endpoint", `${link(254)}:51820`, "persistent-keepalive", "25"]);
    const movedB = { ...b, address: `${tunnel(30)}/32` };
    const d = peer(5, "172.30.0.14");
    const result = await agent.ok("wg.sync", { peers: [a, movedB, d] });
    assert.deepEqual(result, { added: 1, updated: 1, removed: 1, unchanged: 1 });

    const { peers } = dump();
    assert.deepEqual([...peers.keys()].sort(), [a.publicKey, b.publicKey, d.publicKey].sort());
    assert.equal(peers.get(a.publicKey)?.endpoint, `${link(254)}:51820`, "the unchanged peer was not re-created");
    assert.equal(peers.get(a.publicKey)?.keepalive, "25");
    assert.equal(peers.get(b.publicKey)?.allowedIps, movedB.address);
    assert.ok(!peers.has(c.publicKey));
    assert.deepEqual(firewallPairs(), [`${tunnel(2)} . ${owner}`, `${tunnel(30)} . 172.30.0.12`, `${tunnel(5)} . 172.30.0.14`].sort());

    // A peer that appeared behind the agent's back is removed too: the agent owns the interface.
    const stranger = keyOf();
    sh("wg", ["set", IF, "peer", stranger, "allowed-ips", `${tunnel(99)}/32`]);
    assert.deepEqual(await agent.ok("wg.sync", { peers: [a, movedB, d] }), { added: 0, updated: 0, removed: 1, unchanged: 3 });
    assert.ok(!dump().peers.has(stranger));
    await agent.ok("wg.sync", { peers: [a, b, c] });
  });

  test("wg.peer.add and wg.peer.remove are idempotent and keep the firewall in step", async () => {
    const e = peer(6, "172.30.0.15");
    assert.deepEqual(await agent.ok("wg.peer.add", e), { publicKey: e.publicKey, status: "added" });
    assert.deepEqual(await agent.ok("wg.peer.add", e), { publicKey: e.publicKey, status: "unchanged" });
    assert.ok(firewallPairs().includes(`${tunnel(6)} . 172.30.0.15`));
    assert.deepEqual(await agent.ok("wg.peer.add", { ...e, ownerAddress: "172.30.0.16" }), { publicKey: e.publicKey, status: "updated" });
    assert.ok(firewallPairs().includes(`${tunnel(6)} . 172.30.0.16`));
    assert.equal(dump().peers.get(e.publicKey)?.allowedIps, e.address);

    const taken = await agent.fails("wg.peer.add", { ...peer(6, null) });
    assert.equal(taken.code, "invalid_payload");
    assert.match(taken.message, /belongs to peer/);

    assert.deepEqual(await agent.ok("wg.peer.remove", { publicKey: e.publicKey }), { publicKey: e.publicKey, removed: true });
    assert.deepEqual(await agent.ok("wg.peer.remove", { publicKey: e.publicKey }), { publicKey: e.publicKey, removed: false });
    assert.ok(!dump().peers.has(e.publicKey));
    assert.ok(!firewallPairs().some((p) => p.startsWith(`${tunnel(6)} `)));
  });

  test("the control plane's set is applied unless a peer command overtook it; then it is dropped and asked for again, a bounded number of times", async () => {
    const requests: string[] = [];
    const refresh = new PeerRefresh({
      wireguard: agent.wireguard,
      request: () => {
        requests.push(`r${requests.length + 1}`);
        return requests.at(-1);
      },
      logger,
      maxRetries: 1,
    });
    const e = peer(7, "172.30.0.15");
    const f = peer(8, null);

    // The control plane read its set before e's job, which ran before the answer came.
    refresh.ask();
    await agent.ok("wg.peer.add", e);
    await refresh.answer("r1", [a, b, c]);
    assert.ok(dump().peers.has(e.publicKey), "the older set did not undo the add");
    assert.deepEqual(requests, ["r1", "r2"], "asked again at once");

    // A command still queued in the manager when the answer arrives: the check waits its turn behind it.
    await Promise.all([agent.wireguard.addPeer(f), refresh.answer("r2", [a, b, c, e])]);
    assert.ok(dump().peers.has(f.publicKey));
    assert.deepEqual(requests, ["r1", "r2"], "after maxRetries stale answers it waits for the next interval");

    // Nothing in between: the set is applied; strangers go, the unchanged peers keep their session.
    refresh.ask();
    await refresh.answer("r3", [a, b, c]);
    const { peers } = dump();
    assert.deepEqual([...peers.keys()].sort(), [a, b, c].map((p) => p.publicKey).sort());
    assert.equal(peers.get(a.publicKey)?.endpoint, `${link(254)}:51820`, "a was not re-created");
    assert.equal(peers.get(a.publicKey)?.keepalive, "25");

    // Answers to superseded or unanswered-too-long requests change nothing.
    refresh.ask();
    refresh.ask();
    await refresh.answer("r4", []);
    refresh.stop();
    const patient = new PeerRefresh({ wireguard: agent.wireguard, request: () => "r6", logger, answerTimeoutMs: 20 });
    patient.ask();
    await delay(60);
    await patient.answer("r6", []);
    assert.equal(dump().peers.size, 3);
  });

  test("bad peers are refused before anything changes: malformed keys, foreign or reserved addresses", async () => {
    const before = dump().peers;
    assert.equal((await agent.fails("wg.peer.add", { ...peer(7, null), publicKey: "bm9wZQ==" })).code, "invalid_payload");
    assert.equal((await agent.fails("wg.sync", { peers: [a, { ...b, publicKey: `${b.publicKey.slice(0, 43)}!` }] })).code, "invalid_payload");
    for (const address of ["10.99.99.2/32", `${tunnel(1)}/32`, `${tunnel(0)}/32`, `${tunnel(255)}/32`]) {
      const error = await agent.fails("wg.peer.add", { ...peer(7, null), address });
      assert.equal(error.code, "invalid_payload", address);
      assert.match(error.message, /is not a device address/);
    }
    const deviceToDevice = await agent.fails("wg.peer.add", peer(7, tunnel(2)));
    assert.match(deviceToDevice.message, /devices may not reach each other/);
    assert.deepEqual(dump().peers, before);
  });

  test("wg.status reports each peer's endpoint, handshake and counters", async () => {
    const status = await agent.ok("wg.status", {});
    assert.equal(status.publicKey, agent.wireguard.facts()?.publicKey);
    assert.equal(status.peers.length, 3);
    const entry = status.peers.find((p) => p.publicKey === a.publicKey);
    assert.deepEqual(entry, {
      publicKey: a.publicKey,
      endpoint: `${link(254)}:51820`,
      allowedIps: [a.address],
      latestHandshakeAt: null,
      rxBytes: 0,
      txBytes: entry?.txBytes ?? 0,
    });
    assert.ok(commandSchemas["wg.status"].result.safeParse(status).success);
  });

  test("after a reboot (interface and table gone) a restarted agent brings back interface, key, peers and rules", async () => {
    const publicKey = agent.wireguard.facts()?.publicKey;
    const rules = firewallPairs();
    await agent.stop();
    sh("ip", ["link", "del", IF]);
    sh("nft", ["delete", "table", "inet", TABLE]);
    assert.ok(!existsSync(`/sys/class/net/${IF}`));

    agent = await new Agent(await startWireGuard()).start();
    const d = dump();
    assert.equal(d.publicKey, publicKey, "same key: devices need no new configuration");
    assert.equal(d.listenPort, PORT);
    assert.deepEqual([...d.peers.keys()].sort(), [a.publicKey, b.publicKey, c.publicKey].sort());
    for (const p of [a, b, c]) assert.equal(d.peers.get(p.publicKey)?.allowedIps, p.address);
    assert.deepEqual(firewallPairs(), rules);

    // The running agent repairs a lost table on its next reconcile too, without a restart.
    sh("nft", ["delete", "table", "inet", TABLE]);
    assert.deepEqual(await agent.wireguard.ensure(), { added: 0, updated: 0, removed: 0, unchanged: 3 });
    assert.deepEqual(firewallPairs(), rules);
  });

  test("end to end: a device reaches its owner's container through the tunnel, and nothing else", async () => {
    // Three namespaces: the device (client), its owner's "container", and another "container".
    const client = namespace(NS.client, 0);
    const clientAddress = client.address;
    const ownerSpace = namespace(NS.owner, 4);
    assert.equal(ownerSpace.address, owner);
    const otherSpace = namespace(NS.other, 8);
    const other = otherSpace.address;
    await ownerSpace.listen(owner);
    await otherSpace.listen(other);

    const device = generateKeyPair();
    const keyFile = join(dir, "device.key");
    writeFileSync(keyFile, `${device.privateKey}\n`, { mode: 0o600 });
    sh("ip", ["netns", "exec", NS.client, "wireguard-go", CLIENT_IF]);
    const hostKey = agent.wireguard.facts()?.publicKey ?? "";
    sh("ip", ["netns", "exec", NS.client, "wg", "set", CLIENT_IF, "private-key", keyFile,
      "peer", hostKey, "endpoint", `${link(1)}:${PORT}`, "allowed-ips", `${tunnel(0)}/24,${link(0)}/24`, "persistent-keepalive", "25"]);
    sh("ip", ["-n", NS.client, "address", "add", `${tunnel(40)}/32`, "dev", CLIENT_IF]);
    sh("ip", ["-n", NS.client, "link", "set", CLIENT_IF, "up"]);
    sh("ip", ["-n", NS.client, "route", "add", `${tunnel(0)}/24`, "dev", CLIENT_IF]);
    sh("ip", ["-n", NS.client, "route", "add", `${link(4)}/30`, "dev", CLIENT_IF]);
    sh("ip", ["-n", NS.client, "route", "add", `${link(8)}/30`, "dev", CLIENT_IF]);
    assert.equal(await client.connect(owner, 8080), "timeout", "not a peer yet: nothing gets through");

    const mine = { publicKey: device.publicKey, address: `${tunnel(40)}/32`, ownerAddress: owner };
    await agent.ok("wg.peer.add", mine);
    assert.ok(await client.reaches(owner, 8080), "the owner's container answers through the tunnel");
    const session = dump().peers.get(device.publicKey);
    assert.ok(session && session.handshake > 0 && session.rx > 0, `handshake and traffic: ${JSON.stringify(session)}`);
    assert.equal(session.endpoint, `${clientAddress}:${session.endpoint.split(":")[1]}`);

    assert.equal(await client.connect(other, 8080), "timeout", "another container is out of reach");
    assert.equal(await client.connect(tunnel(1), 8080), "timeout", "so are the host's own services");

    // Syncing the same set plus a newcomer leaves the live session alone: same handshake, counters kept.
    const all = [a, b, c, mine];
    await agent.ok("wg.sync", { peers: [...all, peer(41, null)] });
    const after = dump().peers.get(device.publicKey);
    assert.equal(after?.handshake, session.handshake);
    assert.ok((after?.rx ?? 0) >= session.rx);
    assert.equal(await client.connect(owner, 8080), "open");

    // Moving the device to another owner moves what it may reach.
    await agent.ok("wg.peer.add", { ...mine, ownerAddress: other });
    assert.equal(await client.connect(other, 8080), "open");
    assert.equal(await client.connect(owner, 8080), "timeout");
  });
});

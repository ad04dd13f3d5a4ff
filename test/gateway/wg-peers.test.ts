/**
 * The gateway's side of the agent's WireGuard reconcile: a wg-peers-request is answered with the
 * host's desired peers as PostgreSQL has them (rows written straight to the test's database).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import { generateKeyPair } from "../../shared/crypto/x25519";
import { devices, hosts, instances, users } from "../../shared/db/schema";
import type { DeviceState } from "../../shared/db/schema";
import { stamp } from "../../shared/protocol/messages";
import { bodyAt, fetchApi } from "../support/api";
import { newAccount } from "../support/harness";
import { startControlPlane, type RunningControlPlane } from "../support/control-plane";
import { ScriptedAgent } from "../support/scripted-agent";
import { waitFor } from "../queue/wait";

let cp: RunningControlPlane;
before(async () => {
  cp = await startControlPlane({ heartbeatMs: 500 });
});
after(() => cp.close());

const db = () => cp.h.services.db;
const run = Date.now().toString(36);
let counter = 0;

/** A host enrolled through the API, as the gateway tests make them: its id and agent credential. */
async function enrolledHost(): Promise<{ id: string; credential: string }> {
  const created = await fetchApi(cp.url, "POST", "/api/v1/hosts", { body: { name: `wg-host-${run}-${counter++}` }, headers: { cookie: cp.adminCookie } });
  const { host, enrollmentToken } = bodyAt(created, 201);
  const enrolled = await fetchApi(cp.url, "POST", "/api/v1/agent/enroll", { body: { token: enrollmentToken } });
  return { id: host.id, credential: bodyAt(enrolled, 201).credential };
}

async function user(): Promise<string> {
  const { email, username, firstName, lastName } = newAccount();
  const [row] = await db().insert(users).values({ email, username, passwordHash: "x", firstName, lastName }).returning({ id: users.id });
  return row!.id;
}

async function instance(userId: string, hostId: string, ipv4: string): Promise<void> {
  await db()
    .insert(instances)
    .values({ userId, hostId, name: `kws-${randomUUID().slice(0, 8)}`, label: `wg-${randomUUID().slice(0, 8)}`, username: "dev", passwordEncrypted: "x", ipv4, image: "debian", memoryMB: 512, state: "running" });
}

async function device(userId: string, hostId: string, address: string, state: DeviceState = "active"): Promise<string> {
  const { publicKey } = generateKeyPair();
  await db().insert(devices).values({ userId, hostId, name: `laptop-${counter++}`, publicKey, address, state });
  return publicKey;
}

/** Sends a wg-peers-request and waits for the answer that quotes its id. */
async function askPeers(agent: ScriptedAgent) {
  const request = stamp({ type: "wg-peers-request" });
  const from = agent.received.length;
  agent.sendRaw(JSON.stringify(request));
  const answer = await agent.next("wg-peers", from);
  assert.equal(answer.requestId, request.id);
  return answer.peers;
}

describe("wg-peers-request", () => {
  test("answers with the host's pending and active devices, each bound to its owner's container on that host", async () => {
    const host = await enrolledHost();
    const [otherHost] = await db().insert(hosts).values({ name: `wg-other-${run}` }).returning({ id: hosts.id });
    const [alice, bob, carol] = [await user(), await user(), await user()];
    await instance(alice, host.id, "172.30.0.11");
    await instance(carol, otherHost!.id, "172.30.0.12");
    const aliceLaptop = await device(alice, host.id, "10.8.0.2");
    const alicePhone = await device(alice, host.id, "10.8.0.3", "pending");
    const bobLaptop = await device(bob, host.id, "10.8.0.4");
    const carolLaptop = await device(carol, host.id, "10.8.0.5");
    await device(alice, host.id, "10.8.0.6", "removing");
    await device(carol, otherHost!.id, "10.8.0.2");

    const agent = await ScriptedAgent.connect(cp.url, host.credential);
    agent.hello();
    await agent.next("welcome");
    const peers = await askPeers(agent);
    assert.deepEqual(
      [...peers].sort((a, b) => a.address.localeCompare(b.address)),
      [
        { publicKey: aliceLaptop, address: "10.8.0.2/32", ownerAddress: "172.30.0.11" },
        { publicKey: alicePhone, address: "10.8.0.3/32", ownerAddress: "172.30.0.11" },
        // Bob has no container, Carol's is on another host: their devices reach nothing.
        { publicKey: bobLaptop, address: "10.8.0.4/32", ownerAddress: null },
        { publicKey: carolLaptop, address: "10.8.0.5/32", ownerAddress: null },
      ],
      "removing devices and other hosts' devices are left out",
    );

    // Each request reads PostgreSQL afresh.
    await db().delete(devices).where(eq(devices.publicKey, bobLaptop));
    assert.deepEqual(
      (await askPeers(agent)).map((p) => p.publicKey).sort(),
      [aliceLaptop, alicePhone, carolLaptop].sort(),
    );
    agent.close();
  });

  test("a host without devices gets an empty set; before hello the request is refused, and the connection stays", async () => {
    const host = await enrolledHost();
    const agent = await ScriptedAgent.connect(cp.url, host.credential);
    agent.send({ type: "wg-peers-request" });
    assert.match((await agent.next("error")).message, /send hello first/);
    agent.hello();
    await agent.next("welcome");
    assert.deepEqual(await askPeers(agent), []);
    assert.equal(agent.closed, undefined);
    agent.close();
  });

  test("facts from a 1.0 agent, whose WireGuard block has no address, are stored without that block", async () => {
    const host = await enrolledHost();
    const agent = await ScriptedAgent.connect(cp.url, host.credential);
    agent.hello("1.0");
    await agent.next("welcome");
    const wireguard = { interface: "wg0", publicKey: generateKeyPair().publicKey, listenPort: 51_820, endpoint: null };
    agent.send({ type: "facts", facts: { cpus: 4, memoryBytes: 1024, diskFreeBytes: 2048, runningInstances: 0, instances: 0, wireguard } });
    const stored = async () => (await db().select({ facts: hosts.facts }).from(hosts).where(eq(hosts.id, host.id)))[0]?.facts;
    await waitFor(async () => (await stored()) !== null, 5000, "stored facts");
    assert.deepEqual(await stored(), { cpus: 4, memoryBytes: 1024, diskFreeBytes: 2048, runningInstances: 0, instances: 0 });
    assert.ok(!agent.received.some((m) => m.type === "error"), "the frame was accepted");
    agent.close();
  });
});

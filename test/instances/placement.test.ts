import assert from "node:assert/strict";
import { test } from "node:test";
import type { Host } from "../../shared/db/schema";
import { chooseHost, hasRoom } from "../../functions/hosts/placement";

const GiB = 2 ** 30;
const now = Date.now();
const rules = { memoryMB: 1500, reserveMB: 1024, heartbeatMs: 15_000, now };

function host(name: string, over: Partial<Host> = {}): Host {
  return {
    id: name,
    name,
    publicAddress: null,
    draining: false,
    enrollmentTokenHash: null,
    enrollmentExpiresAt: null,
    credentialHash: "x",
    enrolledAt: new Date(now),
    connectionId: "c",
    gatewayId: "g",
    connectedAt: new Date(now),
    disconnectedAt: null,
    lastHeartbeatAt: new Date(now - 1000),
    agentVersion: "1",
    lxdVersion: "5.0.2",
    degradedReason: null,
    facts: { cpus: 2, memoryBytes: 8 * GiB, diskFreeBytes: 100 * GiB, runningInstances: 0, instances: 0 },
    createdAt: new Date(now),
    updatedAt: new Date(now),
    ...over,
  };
}

test("room: the limits of a host's instances plus the new one stay within its memory minus the reserve", () => {
  const h = host("a"); // 8192 MB - 1024 reserve = 7168 MB
  assert.equal(hasRoom(h, { instances: 3, memoryMB: 4500 }, rules), true, "4500 + 1500 = 6000");
  assert.equal(hasRoom(h, { instances: 3, memoryMB: 5668 }, rules), true, "exactly 7168");
  assert.equal(hasRoom(h, { instances: 4, memoryMB: 5669 }, rules), false, "one MB over");
  assert.equal(hasRoom(host("nofacts", { facts: null }), undefined, rules), false, "a host that never reported its memory takes nothing");
});

test("only online, non-draining, healthy hosts with room; ties go to the host with fewer instances", () => {
  const loads = new Map([
    ["busy", { instances: 3, memoryMB: 3000 }],
    ["quiet", { instances: 1, memoryMB: 1500 }],
    ["full", { instances: 4, memoryMB: 6000 }],
  ]);
  const candidates = [
    host("busy"),
    host("quiet"),
    host("full"),
    host("drained", { draining: true }),
    host("offline", { lastHeartbeatAt: new Date(now - 60_000) }),
    host("nolxd", { degradedReason: "no LXD socket" }),
  ];
  assert.equal(chooseHost(candidates, loads, rules)?.name, "quiet");
  assert.equal(chooseHost(candidates.filter((h) => h.name !== "quiet"), loads, rules)?.name, "busy");
  assert.equal(chooseHost(candidates.filter((h) => !["quiet", "busy"].includes(h.name)), loads, rules), undefined, "no room anywhere");
  // Equal loads: the name decides, so the choice is the same every time.
  assert.equal(chooseHost([host("b"), host("a")], new Map(), rules)?.name, "a");
});

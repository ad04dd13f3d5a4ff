/**
 * A device's peer goes through the job pipeline: pending until the agent confirms, rolled back
 * (row deleted, address freed) when the agent fails it, active again when a removal fails. The
 * agent is scripted here so it can fail on purpose; test/devices/e2e.test.ts runs the real one.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { generateKeyPair } from "../../shared/crypto/x25519";
import type { Command, GatewayMessage } from "../../shared/protocol/messages";
import { bodyAt, fetchApi, type ApiMethod } from "../support/api";
import { signedInUser } from "../support/harness";
import { startControlPlane, type RunningControlPlane } from "../support/control-plane";
import { ScriptedAgent } from "../support/scripted-agent";
import { waitFor } from "../queue/wait";

let cp: RunningControlPlane;
let agent: ScriptedAgent;
let cookie: string;

before(async () => {
  cp = await startControlPlane({ heartbeatMs: 500 });
  const created = await fetchApi(cp.url, "POST", "/api/v1/hosts", {
    body: { name: `dev-host-${Date.now().toString(36)}`, publicAddress: "198.51.100.7" },
    headers: { cookie: cp.adminCookie },
  });
  const { enrollmentToken } = bodyAt(created, 201);
  const { credential } = bodyAt(await fetchApi(cp.url, "POST", "/api/v1/agent/enroll", { body: { token: enrollmentToken } }), 201);
  agent = await ScriptedAgent.connect(cp.url, credential);
  agent.hello();
  await agent.next("welcome");
  agent.send({
    type: "facts",
    facts: {
      cpus: 2,
      memoryBytes: 8 * 2 ** 30,
      diskFreeBytes: 2 ** 36,
      runningInstances: 0,
      instances: 0,
      wireguard: { interface: "wg0", publicKey: generateKeyPair().publicKey, listenPort: 51820, address: "10.9.0.1/24", endpoint: null },
    },
  });
  ({ cookie } = await signedInUser(cp.h));
  await waitFor(async () => (await api("GET", "/devices")).status === 200, 5000, "signed in");
});
after(async () => {
  agent?.ws.close();
  await cp?.close();
});

const api = <M extends ApiMethod, P extends string>(method: M, path: P, body?: unknown) => fetchApi(cp.url, method, `/api/v1${path}`, { body, headers: { cookie } });

/** Answers the next command of this kind the way the test says. */
async function answer(kind: string, ok: boolean, from: number) {
  const command = await nextCommand(kind, from);
  agent.send(ok ? { type: "result", jobId: command.jobId, ok: true, data: resultFor(command) } : { type: "result", jobId: command.jobId, ok: false, error: { code: "wireguard_error", message: "wg: interface busy" } });
  return command;
}

function resultFor(command: Command) {
  const { publicKey } = command.payload;
  return command.kind === "wg.peer.add" ? { publicKey, status: "added" } : { publicKey, removed: true };
}

async function nextCommand(kind: string, from: number): Promise<Command> {
  let found: Command | undefined;
  const isCommand = (m: GatewayMessage): m is Command => m.type === "command" && m.kind === kind;
  await waitFor(async () => Boolean((found = agent.received.slice(from).find(isCommand))), 10_000, kind);
  return found!;
}

const list = async () => bodyAt(await api("GET", "/devices"), 200).devices;

test("a peer the agent fails to add rolls the registration back: no row, the address free again", async () => {
  const from = agent.received.length;
  const res = await api("POST", "/devices", { name: "laptop" });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.body.device.state, "pending");
  assert.match(res.body.config, /^Endpoint = 198\.51\.100\.7:51820$/m, "the host's public address and the interface's port");
  const command = await answer("wg.peer.add", false, from);
  assert.equal(command.payload.address, "10.9.0.2/32");
  await waitFor(async () => (await list()).length === 0, 5000, "the row is gone");

  const again = await api("POST", "/devices", { name: "laptop" });
  assert.equal(bodyAt(again, 201).device.address, "10.9.0.2", "the address was freed");
  await answer("wg.peer.add", true, from + 1);
  await waitFor(async () => (await list())[0]?.state === "active", 5000, "active once confirmed");
});

test("a removal the agent fails leaves the device active; one it confirms deletes it", async () => {
  const [device] = await list();
  let from = agent.received.length;
  const del = await api("DELETE", `/devices/${device!.id}`);
  assert.equal(del.status, 202);
  assert.equal((await list())[0]?.state, "removing");
  assert.equal((await api("DELETE", `/devices/${device!.id}`)).status, 409, "one job at a time");
  await answer("wg.peer.remove", false, from);
  await waitFor(async () => (await list())[0]?.state === "active", 5000, "active again");

  from = agent.received.length;
  await api("DELETE", `/devices/${device!.id}`);
  await answer("wg.peer.remove", true, from);
  await waitFor(async () => (await list()).length === 0, 5000, "deleted");
});

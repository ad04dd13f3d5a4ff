import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Agent } from "../../agent/agent";
import { LxdClient } from "../../agent/lxd/client";
import { findLxdSocket } from "../../agent/lxd/socket";
import { DialError } from "../../functions/ingress/stream-dialer";
import { startControlPlane, type RunningControlPlane } from "../support/control-plane";
import { agentInProcess, newHost, readAll, until } from "../support/streams";

/**
 * A real busybox container on lxdbr0, reached through the agent with its default allowed targets
 * (the bridge's subnet). The address is from this test file's own slice of the bridge range.
 */
const ADDRESS = "172.30.0.246";
const name = `kws-streams-${Date.now().toString(36)}`;
let lxd: LxdClient;
let cp: RunningControlPlane;
let agent: Agent;
let hostId: string;

before(async () => {
  const socketPath = findLxdSocket();
  if (!socketPath) throw new Error("no LXD socket: run scripts/host-setup.sh");
  lxd = new LxdClient({ socketPath });
  await lxd.createInstance({
    name,
    image: "kws/busybox",
    config: { "limits.memory": "128MB" },
    devices: { eth0: { type: "nic", network: "lxdbr0", name: "eth0", "ipv4.address": ADDRESS } },
  });
  await lxd.startInstance(name);
  await until(async () => (await lxd.getInstanceState(name)).ipv4.includes(ADDRESS), 30_000, `${name} on ${ADDRESS}`);
  // busybox httpd forks into the background.
  const served = await lxd.exec(name, { command: ["sh", "-c", "mkdir -p /www && echo hello-from-the-container > /www/index.html && httpd -p 8080 -h /www"] });
  assert.equal(served.exitCode, 0, served.stderr);
  cp = await startControlPlane();
  const host = await newHost(cp, "streams-lxd");
  hostId = host.hostId;
  agent = await agentInProcess(cp, host.token, {});
  await until(() => cp.streams.connectedHosts().includes(hostId), 20_000, "the data connection");
});
after(async () => {
  await agent?.stop();
  await cp?.close();
  await lxd?.stopInstance(name, { force: true }).catch(() => undefined);
  await lxd?.deleteInstance(name).catch(() => undefined);
});

test("a container's port on the bridge is reachable through the agent's default targets; the host's bridge address is not", async () => {
  const stream = await cp.streams.dial({ hostId, address: ADDRESS, port: 8080 });
  stream.write("GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n");
  const response = (await readAll(stream)).toString();
  assert.match(response, /^HTTP\/1\.[01] 200/);
  assert.match(response, /hello-from-the-container/);
  await assert.rejects(cp.streams.dial({ hostId, address: "172.30.0.1", port: 22 }), (err: unknown) => err instanceof DialError && err.reason === "forbidden");
  await assert.rejects(cp.streams.dial({ hostId, address: "127.0.0.1", port: 22 }), (err: unknown) => err instanceof DialError && err.reason === "forbidden");
});

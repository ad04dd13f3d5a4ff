import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, readFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { after, before, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { Namespace, sh } from "../support/netns";
import { Pipeline } from "../support/pipeline";

/**
 * Two people's busybox instances on one host's real bridge, each serving HTTP on 8080: isolated
 * from each other and from the host, still reaching the outside through NAT (a network namespace
 * the test makes plays the internet and a metadata server), and held to their limits (CPU,
 * processes, root disk on the btrfs pool).
 */
const id = Math.random().toString(36).slice(2, 6);
const k = 10 + Math.floor(Math.random() * 200);
const OUTSIDE = { host: `10.217.${k}.1`, ns: `10.217.${k}.2` };
const METADATA = "169.254.169.254";
const TABLE = "kws_instances";

interface Tenant {
  token: string;
  name: string;
  ip: string;
  mac: string;
}

let p: Pipeline;
let a: Tenant;
let b: Tenant;
let outside: Namespace;
let hostServer: Server;
let hostPort: number;

/** A script inside an instance; values reach it as environment variables. */
async function run(t: Tenant, script: string, env: Record<string, string> = {}, timeoutMs = 30_000) {
  return p.lxd.exec(t.name, { command: ["/bin/sh", "-c", script], env, timeoutMs });
}

/** What `t` fetches from http://address:port/path within 3 s (undefined: nothing, or an HTTP error). */
async function fetchFrom(t: Tenant, address: string, port: number, path = "/"): Promise<string | undefined> {
  const r = await run(t, 'wget -q -T 2 -O - "http://$TARGET"', { TARGET: `${address}:${port}${path}` });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

/** What a TCP server on address:port says first to `t` (undefined: no connection within 2 s). */
async function greetingFrom(t: Tenant, address: string, port: number): Promise<string | undefined> {
  return (await tcpFrom(t, address, port)).said;
}

/** A TCP connection attempt from `t`: what the server said, or whether its host refused (a closed port answers too). */
async function tcpFrom(t: Tenant, address: string, port: number): Promise<{ said?: string; refused: boolean }> {
  const r = await run(t, 'nc -w 2 "$HOST" "$PORT" </dev/null', { HOST: address, PORT: String(port) });
  const said = r.stdout.trim();
  return { ...(said ? { said } : {}), refused: /refused/i.test(r.stderr) };
}

/** UDP datagrams the instance's kernel took in (delivered or answered "port unreachable"). */
async function udpReceived(t: Tenant): Promise<number> {
  const lines = (await run(t, "grep ^Udp: /proc/net/snmp")).stdout.trim().split("\n");
  const [names, values] = lines.map((l) => l.split(/\s+/));
  const at = (field: string) => Number(values![names!.indexOf(field)]);
  return at("InDatagrams") + at("NoPorts");
}

/** The same from the host itself. */
function hostGreeting(address: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let said = "";
    const socket = connect({ host: address, port, timeout: 3000 });
    socket.on("data", (d: Buffer) => (said += d.toString()));
    socket.on("end", () => resolve(said.trim() || undefined));
    socket.on("timeout", () => (socket.destroy(), resolve(undefined)));
    socket.on("error", () => resolve(undefined));
  });
}

async function deploy(token: string): Promise<Tenant> {
  const { name, ipv4 } = await p.deploy(token, { username: "dev", password: "Busy-Box-123" });
  assert.ok(ipv4, "the instance has its address");
  const mac = (await p.lxd.getInstance(name))!.config["volatile.eth0.hwaddr"]!;
  const t = { token, name, ip: ipv4, mac };
  // Each answers HTTP with its own name.
  const started = await run(t, 'mkdir -p /www && echo "$NAME" > /www/index.html && httpd -p 8080 -h /www', { NAME: name });
  assert.equal(started.exitCode, 0, started.stderr);
  return t;
}

/** The host's own HTTP client: what answers on address:port, or undefined. */
async function hostFetch(address: string, port = 8080, path = "/"): Promise<string | undefined> {
  try {
    const res = await fetch(`http://${address}:${port}${path}`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) return undefined;
    return (await res.text()).trim();
  } catch {
    return undefined;
  }
}

function sendUdp(address: string, port: number, text: string): Promise<void> {
  const socket = createSocket("udp4");
  return new Promise((resolve, reject) => socket.send(text, port, address, (err) => (socket.close(), err ? reject(err) : resolve())));
}

before(async () => {
  p = await Pipeline.start({
    env: {
      KWS_BRIDGE_RANGE: "172.30.0.170-172.30.0.189",
      KWS_INSTANCE_IMAGE: "kws/busybox",
      KWS_INSTANCE_PROVISION: "false",
      // Room for 2000 processes: the process limit, not memory, must be what stops the fork bomb.
      KWS_INSTANCE_MEMORY_MB: "2048",
      KWS_INSTANCE_CPUS: "1",
      KWS_INSTANCE_DISK_GB: "1",
    },
  });
  await p.until(async () => (await p.hostRow()).facts !== null, 20_000, "facts");
  [a, b] = await Promise.all([deploy(await p.userToken()), deploy(await p.userToken())]);

  // "The internet" and a metadata server: a namespace behind the host's routing, not on the bridge.
  outside = Namespace.create(`kwsi${id}`, OUTSIDE.host, OUTSIDE.ns);
  sh("ip", ["-n", outside.name, "address", "add", `${METADATA}/32`, "dev", "eth0"]);
  sh("ip", ["route", "replace", `${METADATA}/32`, "via", OUTSIDE.ns]);
  await outside.listen("0.0.0.0", 8080);

  // A service on every address of the host, as the control plane's port would be.
  hostServer = createServer((s) => s.end("host\n"));
  await new Promise<void>((resolve) => hostServer.listen(0, "0.0.0.0", resolve));
  hostPort = (hostServer.address() as { port: number }).port;
});

after(async () => {
  hostServer?.close();
  for (const t of [a, b]) {
    if (!t) continue;
    const kill = await p.api("DELETE", "/instance", undefined, t.token).catch(() => undefined);
    if (kill?.status === 202) await p.waitFinal(kill.body.job.id, 90_000, t.token).catch(() => undefined);
  }
  await p?.close();
  outside?.destroy();
  for (const cleanup of [
    () => sh("ip", ["route", "del", `${METADATA}/32`]),
    // The agent leaves its tables up when it stops (as in production); other test files share this host.
    () => sh("nft", ["delete", "table", "inet", TABLE]),
    () => sh("nft", ["delete", "table", "bridge", TABLE]),
  ]) {
    try {
      cleanup();
    } catch {
      // Not there.
    }
  }
});

test("two instances reach neither each other on any port, even routed through the host", async () => {
  assert.equal(await hostFetch(a.ip), a.name, "the host reaches A's service");
  assert.equal(await hostFetch(b.ip), b.name, "and B's");
  assert.equal((await tcpFrom(a, OUTSIDE.ns, 1)).refused, true, "a closed port that can be reached shows as refused");
  const probe = async (from: Tenant, to: Tenant) => {
    assert.equal(await fetchFrom(from, to.ip, 8080), undefined, `${from.name} does not reach ${to.name}'s HTTP`);
    assert.deepEqual(await tcpFrom(from, to.ip, 22), { refused: false }, "not even a refusal from a closed port");
    const ping = await run(from, 'ping -c 1 -W 2 "$TO"', { TO: to.ip });
    assert.notEqual(ping.exitCode, 0, "nor a ping");
    // Below IP (which a host with br_netfilter also filters in the inet tables): no ARP answer either.
    const arp = await run(from, 'arping -c 1 -w 2 -I eth0 "$TO"', { TO: to.ip });
    assert.notEqual(arp.exitCode, 0, `nor an ARP reply: ${arp.stdout}`);
    // One-way UDP (a TFTP request) needs no answer to arrive: the receiver's kernel counts it.
    const before = await udpReceived(to);
    await run(from, 'timeout 2 tftp -g -r probe -l /tmp/probe "$TO" 9999; true', { TO: to.ip });
    assert.equal((await udpReceived(to)) - before, 0, `no datagram from ${from.name} reached ${to.name}`);
  };
  await probe(a, b);
  await probe(b, a);
  // Through the host instead of across the bridge: a route via the gateway.
  await run(a, 'ip route add "$TO/32" via 172.30.0.1', { TO: b.ip });
  try {
    await probe(a, b);
  } finally {
    await run(a, 'ip route del "$TO/32"', { TO: b.ip });
  }
});

test("an instance reaches the host for DHCP and DNS only, not its services nor the metadata address; NAT out works", async () => {
  const dhcp = await run(a, "udhcpc -n -q -i eth0 -s /bin/true");
  assert.equal(dhcp.exitCode, 0, `DHCP: ${dhcp.stderr}`);
  const dns = await run(a, 'nslookup "$NAME.lxd" 172.30.0.1', { NAME: b.name });
  assert.equal(dns.exitCode, 0, `DNS: ${dns.stdout}${dns.stderr}`);

  assert.equal(await hostGreeting("127.0.0.1", hostPort), "host", "the host's service is up");
  assert.equal(await greetingFrom(a, "172.30.0.1", hostPort), undefined, "not on the bridge address");
  assert.equal(await greetingFrom(a, OUTSIDE.host, hostPort), undefined, "not on another address of the host");
  const controlPlanePort = Number(new URL(p.url).port);
  assert.ok(await hostFetch("172.30.0.1", controlPlanePort, "/api/v1/openapi.json"), "the control plane listens on the bridge address too");
  assert.equal(await fetchFrom(a, "172.30.0.1", controlPlanePort, "/api/v1/openapi.json"), undefined, "not the control plane");

  assert.equal(await hostGreeting(METADATA, 8080), "hi", "the host reaches the metadata address");
  assert.equal(await greetingFrom(a, METADATA, 8080), undefined, "the instance does not");
  assert.equal(await greetingFrom(a, OUTSIDE.ns, 8080), "hi", "the outside, through the host's NAT");
  assert.equal(await greetingFrom(b, OUTSIDE.ns, 8080), "hi");
});

test("an instance claiming its neighbour's address, then its MAC too, gets none of the neighbour's traffic", async () => {
  // Datagrams for B from the host, as B's WireGuard traffic would come: B's kernel takes them in, A's must not.
  const sendToB = async (count: number) => {
    for (let i = 0; i < count; i += 1) {
      await sendUdp(b.ip, 9998, `for-b-${i}\n`);
      await delay(300);
    }
  };
  const received = async () => [await udpReceived(a), await udpReceived(b)] as const;

  let [fromA, fromB] = await received();
  const claim = await run(a, 'ip addr add "$B/24" dev eth0 && arping -U -c 3 -I eth0 "$B"', { B: b.ip });
  assert.equal(claim.exitCode, 0, claim.stderr);
  await sendToB(5);
  for (let i = 0; i < 3; i += 1) assert.equal(await hostFetch(b.ip), b.name, "the host still reaches B, not A");
  assert.match(sh("ip", ["neigh", "show", b.ip]), new RegExp(b.mac, "i"), "the host's neighbour entry stays B's");
  let [nowA, nowB] = await received();
  assert.equal(nowA - fromA, 0, "A took in none of B's datagrams");
  assert.ok(nowB - fromB >= 5, `B took in its datagrams (${nowB - fromB})`);

  // B's MAC as well, announced while the host sends.
  [fromA, fromB] = [nowA, nowB];
  const takeover = run(a, 'ip link set eth0 down && ip link set eth0 address "$MAC" && ip link set eth0 up && arping -U -c 4 -I eth0 "$B"', { B: b.ip, MAC: b.mac });
  await sendToB(10);
  assert.equal((await takeover).exitCode, 0);
  [nowA, nowB] = await received();
  assert.equal(nowA - fromA, 0, "A took in none of B's datagrams");
  assert.ok(nowB - fromB >= 10, `B took in its datagrams (${nowB - fromB})`);
  assert.equal(await hostFetch(b.ip), b.name, "and B still answers");
});

test("an instance made without the isolated NIC (an older agent's) gets it when the agent starts it", async () => {
  const name = `kws-old-${id}`;
  await p.lxd.createInstance({
    name,
    image: "kws/busybox",
    devices: { eth0: { type: "nic", name: "eth0", network: "lxdbr0", "ipv4.address": "172.30.0.189" }, root: { type: "disk", path: "/", pool: "default" } },
  });
  try {
    const job = await p.waitFinal((await p.submit("instance.start", { name })).id);
    assert.equal(job.status, "succeeded", JSON.stringify(job.error));
    const instance = (await p.lxd.getInstance(name))!;
    const eth0 = instance.devices.eth0!;
    assert.deepEqual(
      [eth0["security.port_isolation"], eth0["security.mac_filtering"], eth0["security.ipv4_filtering"], eth0["ipv4.address"]],
      ["true", "true", "true", "172.30.0.189"],
    );
    const port = instance.config["volatile.eth0.host_name"]!;
    assert.match(sh("nft", ["list", "table", "bridge", TABLE]), new RegExp(`iifname "${port}" ether saddr != ${instance.config["volatile.eth0.hwaddr"]} drop`), "its port's MAC is pinned");
  } finally {
    await p.lxd.stopInstance(name, { force: true, timeoutSeconds: 30 }).catch(() => undefined);
    await p.lxd.deleteInstance(name).catch(() => undefined);
  }
});

/** The instance's pids cgroup, read on the host: no fork inside the instance needed (none is possible at the limit). */
function hostPids(name: string, file: "pids.max" | "pids.peak" | "pids.events"): string {
  const v1 = `/sys/fs/cgroup/pids/lxc.payload.${name}/${file}`;
  return readFileSync(existsSync(v1) ? v1 : `/sys/fs/cgroup/lxc.payload.${name}/${file}`, "utf8").trim();
}

/** How many forks the limit refused so far. */
const refusedForks = (name: string) => Number(/^max (\d+)$/m.exec(hostPids(name, "pids.events"))?.[1] ?? 0);

function hostTrue(): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => execFile("/bin/true", (err) => (err ? reject(err) : resolve(performance.now() - started))));
}

test("limits: 1 CPU, 2000 processes, a 1 GiB root disk that a write past it fails on; a fork bomb leaves the host and the neighbour responsive", async () => {
  const instance = (await p.lxd.getInstance(a.name))!;
  assert.equal(instance.config["limits.cpu"], "1");
  assert.equal(instance.config["limits.processes"], "2000", "the default process limit");
  assert.equal(instance.devices.root?.pool, "kws-btrfs");
  assert.equal(instance.devices.root?.size, "1GiB");

  const fill = await run(a, "dd if=/dev/zero of=/fill bs=1M count=1200 2>&1; echo rc=$?; rm -f /fill", {}, 120_000);
  assert.doesNotMatch(fill.stdout, /rc=0/, `writing 1200 MiB into 1 GiB fails: ${fill.stdout}`);
  assert.match(fill.stdout, /quota|space/i);

  assert.equal(hostPids(a.name, "pids.max"), "2000");
  // Every process forks two more, then lingers: the population doubles until forks fail.
  const bomb = await run(a, "f() { f | f & sleep 20; }; (f >/dev/null 2>&1 </dev/null &); true");
  assert.equal(bomb.exitCode, 0);
  const slowest = { host: 0, neighbour: 0, api: 0 };
  // Bounded: until the limit refused forks for a few rounds (at most 40 s), then the instance is stopped by force.
  const deadline = Date.now() + 40_000;
  let atLimit = 0;
  let peak = 0;
  try {
    while (atLimit < 4 && Date.now() < deadline) {
      if (refusedForks(a.name) > 0) atLimit += 1;
      slowest.host = Math.max(slowest.host, await hostTrue());
      let t = performance.now();
      assert.equal(await hostFetch(b.ip), b.name, "the neighbour answers during the bomb");
      slowest.neighbour = Math.max(slowest.neighbour, performance.now() - t);
      t = performance.now();
      assert.equal((await p.api("GET", "/instance", undefined, b.token)).status, 200);
      slowest.api = Math.max(slowest.api, performance.now() - t);
      await delay(500);
    }
  } finally {
    peak = Number(hostPids(a.name, "pids.peak"));
    await p.lxd.stopInstance(a.name, { force: true, timeoutSeconds: 30 });
  }
  assert.ok(atLimit > 0, `the bomb reached the limit (peak ${peak})`);
  assert.equal(peak, 2000, "and went no further");
  for (const [what, ms] of Object.entries(slowest)) assert.ok(ms < 3000, `${what} stayed responsive (slowest ${Math.round(ms)} ms)`);
  assert.equal((await p.lxd.getInstance(a.name))?.status, "Stopped");
});

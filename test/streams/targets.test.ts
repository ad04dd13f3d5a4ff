import assert from "node:assert/strict";
import type { NetworkInterfaceInfo } from "node:os";
import { test } from "node:test";
import { parseCliArgs, UsageError } from "../../agent/cli-args";
import { StreamTargets } from "../../agent/streams/targets";

/** This host as os.networkInterfaces() describes it: loopback, an uplink, and the instances' bridge. */
const host = (): NodeJS.Dict<NetworkInterfaceInfo[]> => ({
  lo: [{ address: "127.0.0.1", netmask: "255.0.0.0", family: "IPv4", mac: "00:00:00:00:00:00", internal: true, cidr: "127.0.0.1/8" }],
  eth0: [{ address: "192.168.1.20", netmask: "255.255.255.0", family: "IPv4", mac: "02:00:00:00:00:01", internal: false, cidr: "192.168.1.20/24" }],
  lxdbr0: [{ address: "172.30.0.1", netmask: "255.255.255.0", family: "IPv4", mac: "02:00:00:00:00:02", internal: false, cidr: "172.30.0.1/24" }],
});

test("by default only instances on the bridge are reachable: not the host, its uplink, loopback or the metadata address", () => {
  const targets = new StreamTargets({ interfaces: host });
  assert.deepEqual(targets.check("172.30.0.42"), { ok: true });
  for (const address of ["172.30.0.1", "192.168.1.20", "192.168.1.30", "127.0.0.1", "169.254.169.254", "0.0.0.0", "10.0.0.1", "::1", "example.org"]) {
    assert.equal(targets.check(address).ok, false, address);
  }
});

test("without the bridge nothing is reachable", () => {
  const targets = new StreamTargets({ interfaces: () => ({ lo: host().lo }) });
  assert.equal(targets.check("172.30.0.42").ok, false);
});

test("explicit ranges replace the bridge; loopback only when a range names it; the metadata address never", () => {
  const lab = new StreamTargets({ cidrs: ["10.9.0.0/16"], interfaces: host });
  assert.equal(lab.check("10.9.3.4").ok, true);
  assert.equal(lab.check("172.30.0.42").ok, false);
  const tests = new StreamTargets({ cidrs: ["127.0.0.0/8", "169.254.0.0/16"], interfaces: host });
  assert.equal(tests.check("127.0.0.1").ok, true);
  assert.equal(tests.check("169.254.169.254").ok, false);
});

test("--stream-targets takes a comma-separated list of CIDRs and names itself when one is wrong", () => {
  const env = { isRoot: false, homeDir: "/home/x" };
  assert.deepEqual(parseCliArgs(["--stream-targets", "10.0.0.0/8, fd00::/64"], env).streamTargets, ["10.0.0.0/8", "fd00::/64"]);
  assert.deepEqual(parseCliArgs([], { ...env, streamTargets: "127.0.0.0/8" }).streamTargets, ["127.0.0.0/8"]);
  assert.throws(() => parseCliArgs(["--stream-targets", "10.0.0.0/33"], env), (err: unknown) => err instanceof UsageError && /--stream-targets/.test(err.message));
  assert.equal(parseCliArgs(["--no-streams"], env).streams, false);
  assert.equal(parseCliArgs([], { ...env, streams: "off" }).streams, false);
  assert.equal(parseCliArgs([], env).streams, true);
});

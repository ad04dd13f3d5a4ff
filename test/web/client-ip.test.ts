import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { forwardedClient } from "../../functions/middleware/client-ip";
import { ConfigError, parseConfig } from "../../shared/config";
import { parseCidr } from "../../shared/net/ip";
import { startHarness, type Harness } from "../support/harness";

/** The client address behind proxies: what the client writes into X-Forwarded-For is never believed. */

const trust = (value: string) => parseConfig({ TRUST_PROXY: value }).trustProxy;

describe("TRUST_PROXY", () => {
  test("false, true (one hop), a number of hops, or proxy addresses and CIDR ranges", () => {
    assert.deepEqual(trust("false"), { hops: 0 });
    assert.deepEqual(parseConfig({}).trustProxy, { hops: 0 }, "default: no proxy");
    assert.deepEqual(trust("true"), { hops: 1 });
    assert.deepEqual(trust("2"), { hops: 2 });
    assert.deepEqual(trust(" 10.0.0.0/8, 2001:db8::/32 ,192.0.2.7"), {
      ranges: [parseCidr("10.0.0.0/8"), parseCidr("2001:db8::/32"), parseCidr("192.0.2.7/32")],
    });
    for (const bad of ["yes", "11", "-1", "10.0.0.0/33", "2001:db8::/129", "10.0.0.0/8,", "300.0.0.1", "10.0.0.0/8 fd00::/8"]) {
      assert.throws(() => trust(bad), (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith("TRUST_PROXY:")), bad);
    }
  });
});

describe("the client is the first address from the right not added by a trusted proxy", () => {
  const proxies = trust("10.0.0.0/8,fd00::/8");

  test("hop counts", () => {
    assert.equal(forwardedClient("10.0.0.2", ["6.6.6.6", "203.0.113.9"], { hops: 1 }), "203.0.113.9", "one proxy: its entry, not the client's");
    assert.equal(forwardedClient("10.0.0.2", ["6.6.6.6", "203.0.113.9", "10.0.0.5"], { hops: 2 }), "203.0.113.9");
    assert.equal(forwardedClient("203.0.113.9", ["6.6.6.6"], { hops: 0 }), "203.0.113.9", "no proxy: the header is ignored");
    assert.equal(forwardedClient("10.0.0.2", [], { hops: 1 }), "10.0.0.2", "no header: the peer");
    assert.equal(forwardedClient("10.0.0.2", ["203.0.113.9"], { hops: 3 }), "203.0.113.9", "fewer entries than hops: the leftmost");
  });

  test("proxy ranges, IPv4 and IPv6", () => {
    assert.equal(forwardedClient("10.0.0.2", ["6.6.6.6", "198.51.100.7", "10.9.8.7"], proxies), "198.51.100.7");
    assert.equal(forwardedClient("fd00::1", ["6.6.6.6", "2001:db8::42", "fd12::9"], proxies), "2001:db8::42");
    assert.equal(forwardedClient("::ffff:10.0.0.2", ["198.51.100.7"], proxies), "198.51.100.7", "an IPv4 peer on a dual-stack socket");
    assert.equal(forwardedClient("198.51.100.7", ["6.6.6.6"], proxies), "198.51.100.7", "an untrusted peer: the header is ignored");
    assert.equal(forwardedClient("10.0.0.2", ["10.0.0.3"], proxies), "10.0.0.3", "only proxies: the leftmost");
    assert.equal(forwardedClient("10.0.0.2", ["6.6.6.6", "garbage"], proxies), "garbage", "what a trusted proxy wrote, even unparsable");
  });
});

describe("through the app, the limits count the real client", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ env: { TRUST_PROXY: "true" } });
  });
  after(() => h?.close());

  const resend = (forwardedFor: string, n: number) =>
    h.call("POST", "/api/v1/auth/resend", {
      body: { email: `nobody.${n}.${Date.now()}@example.org` },
      ip: "10.0.0.2",
      headers: { "x-forwarded-for": forwardedFor },
    });

  test("a client writing a new address into X-Forwarded-For each time is still one client", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await resend(`192.0.2.${i + 1}, 203.0.113.77`, i)).status);
    assert.deepEqual(statuses, [202, 202, 202, 429], "the resend limit (3 per address) holds");
    assert.equal((await resend("192.0.2.1, 203.0.113.78", 9)).status, 202, "another client behind the same proxy is not blocked");
  });
});

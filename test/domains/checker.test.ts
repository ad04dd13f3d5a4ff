/**
 * The background check of pending domains, on a real database and DNS server, with its clock
 * moved by the test: it looks again with a doubling wait, verifies a claim once its record
 * appears, and expires a claim nobody proved within 72 h.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DomainChecker } from "../../functions/domains/checker";
import { txtLookup } from "../../functions/domains/dns";
import { backoffMs, CLAIM_LIFETIME_MS } from "../../functions/domains/service";
import { bodyAt } from "../support/api";
import type { TestDns } from "../support/dns-server";
import type { Harness } from "../support/harness";
import { newDomain, personWithApp, startDomainHarness } from "../support/domains";

let h: Harness;
let dns: TestDns;
let clock = Date.now();
let checker: DomainChecker;
const MINUTE = 60_000;

before(async () => {
  ({ h, dns } = await startDomainHarness());
  checker = new DomainChecker({ services: h.services, logger: h.mailbox.logger, now: () => clock });
});
after(async () => {
  await checker?.stop();
  await h?.close();
  await dns?.close();
});

test("the wait between checks starts at a minute, doubles, and stops growing at an hour", () => {
  assert.deepEqual([0, 1, 2, 3, 6, 7, 50].map((n) => backoffMs(n) / MINUTE), [1, 2, 4, 8, 60, 60, 60]);
});

test("a lookup tells an empty answer from resolvers that did not answer", async () => {
  assert.deepEqual(await txtLookup({ dnsServers: [dns.server] })("_kws-challenge.nothing.example.org"), { values: [] });
  const down = await txtLookup({ dnsServers: ["127.0.0.1:9"] })("_kws-challenge.nothing.example.org");
  assert.deepEqual(down.values, []);
  assert.match(down.failure ?? "", /the lookup failed \(E[A-Z]+\)/);
});

test("a pending claim is checked with backoff and verified once its record appears", async () => {
  const ada = await personWithApp(h);
  const name = newDomain();
  clock = Date.now();
  const claim = bodyAt(await ada.call("POST", "/domains", { domain: name, app: ada.app }), 201).domain;
  const status = async () => bodyAt(await ada.call("GET", "/domains"), 200).domains.find((d) => d.name === name)?.status;

  await checker.pass();
  assert.equal(await status(), "pending", "not due before its first minute");
  clock += MINUTE + 1000;
  await checker.pass();
  assert.equal(await status(), "pending", "no record yet");

  dns.txt.set(claim.verification.name, [claim.verification.value]);
  clock += MINUTE;
  await checker.pass();
  assert.equal(await status(), "pending", "the second look waits 2 minutes after the first");
  clock += MINUTE + 1000;
  await checker.pass();
  assert.equal(await status(), "verified");
});

test("a claim nobody proved within 72 h expires", async () => {
  const ada = await personWithApp(h);
  const name = newDomain();
  clock = Date.now();
  bodyAt(await ada.call("POST", "/domains", { domain: name, app: ada.app }), 201);
  clock += CLAIM_LIFETIME_MS - MINUTE;
  await checker.pass();
  assert.equal(bodyAt(await ada.call("GET", "/domains"), 200).domains[0]?.status, "pending", "a minute before its end it is still looked for");
  // That look missed: the next one, after its 2-minute wait and past the lifetime, expires it.
  clock += backoffMs(1);
  await checker.pass();
  const [domain] = bodyAt(await ada.call("GET", "/domains"), 200).domains;
  assert.equal(domain?.status, "expired");
  assert.equal((await ada.call("POST", `/domains/${name}/verify`)).status, 409, "an expired claim is still not proven");
});

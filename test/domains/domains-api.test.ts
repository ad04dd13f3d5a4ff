/**
 * Custom domains through the API, on a real database, with a real DNS server the test writes
 * records into: claim, verify only once the TXT record holds the claim's value (the 409 says what
 * was there), two people claiming one name, validation of generated names, limits and ownership,
 * and the /kws_domains page.
 */
import assert from "node:assert/strict";
import { domainToASCII } from "node:url";
import { after, before, test } from "node:test";
import { parseConfig } from "../../shared/config";
import { bodyAt } from "../support/api";
import type { TestDns } from "../support/dns-server";
import { Browser } from "../support/form-browser";
import type { Harness } from "../support/harness";
import { newDomain, personWithApp, startDomainHarness } from "../support/domains";

let h: Harness;
let dns: TestDns;

before(async () => {
  ({ h, dns } = await startDomainHarness());
});
after(async () => {
  await h?.close();
  await dns?.close();
});

test("KWS_DNS_SERVERS takes ip[:port],... and refuses anything else; empty is the system's resolvers", () => {
  assert.deepEqual(parseConfig({ KWS_DNS_SERVERS: "127.0.0.1:5353, 1.1.1.1,[::1]:53,2001:db8::1" }).dnsServers, ["127.0.0.1:5353", "1.1.1.1", "[::1]:53", "2001:db8::1"]);
  assert.equal(parseConfig({}).dnsServers, undefined);
  assert.equal(parseConfig({ KWS_DNS_SERVERS: " " }).dnsServers, undefined);
  for (const bad of ["dns.example", "1.1.1.1:x", "300.1.1.1"]) assert.throws(() => parseConfig({ KWS_DNS_SERVERS: bad }), /KWS_DNS_SERVERS/, bad);
});

test("a claim is pending with the record to create; verify succeeds only once the record holds its value", async () => {
  const ada = await personWithApp(h);
  const name = newDomain();
  const created = await ada.call("POST", "/domains", { domain: name, app: ada.app });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const { domain } = created.body;
  assert.equal(domain.name, name);
  assert.equal(domain.app, ada.app);
  assert.equal(domain.status, "pending");
  assert.equal(domain.verification.type, "TXT");
  assert.equal(domain.verification.name, `_kws-challenge.${name}`);
  assert.match(domain.verification.value, /^kws-verify=[A-Za-z0-9_-]{20,}$/);
  assert.ok(!Number.isNaN(Date.parse(domain.createdAt)));
  dns.a.set(name, "203.0.113.7");

  const none = bodyAt(await ada.call("POST", `/domains/${name}/verify`), 409);
  assert.equal(none.error.code, "unproven");
  assert.match(none.error.message, /found no TXT record/);

  dns.txt.set(domain.verification.name, ["kws-verify=someone-else", "v=spf1 -all"]);
  const wrong = bodyAt(await ada.call("POST", `/domains/${name}/verify`), 409);
  assert.match(wrong.error.message, /found "kws-verify=someone-else", "v=spf1 -all"/);
  assert.ok(wrong.error.message.includes(domain.verification.value), "the message names the value to put there");
  assert.equal(bodyAt(await ada.call("GET", "/domains"), 200).domains[0]?.status, "pending");

  dns.txt.set(domain.verification.name, ["v=spf1 -all", domain.verification.value]);
  const verified = bodyAt(await ada.call("POST", `/domains/${name}/verify`), 200).domain;
  assert.equal(verified.status, "verified");
  assert.ok(verified.verifiedAt);
  assert.equal(bodyAt(await ada.call("POST", `/domains/${name}/verify`), 200).domain.status, "verified", "verifying again is harmless");

  const listed = bodyAt(await ada.call("GET", "/domains"), 200).domains;
  assert.deepEqual(listed.map((d) => [d.name, d.status]), [[name, "verified"]]);
});

test("a domain moves to another of the person's apps, is removed, and goes with its app", async () => {
  const ada = await personWithApp(h);
  const other = `${ada.app}x`;
  assert.equal((await ada.call("POST", "/apps", { name: other, port: 4000 })).status, 201);
  const name = newDomain();
  assert.equal((await ada.call("POST", "/domains", { domain: name, app: ada.app })).status, 201);
  // Any spelling of the name finds it: upper case, a trailing dot.
  const moved = await ada.call("PATCH", `/domains/${name.toUpperCase()}.`, { app: other });
  assert.equal(moved.status, 200, JSON.stringify(moved.body));
  assert.equal(moved.body.domain.app, other);
  assert.equal(bodyAt(await ada.call("PATCH", `/domains/${name}`, { app: "nosuchapp" }), 404).error.issues?.[0]?.path, "app");

  assert.equal((await ada.call("DELETE", `/domains/${name}`)).status, 204);
  assert.equal((await ada.call("DELETE", `/domains/${name}`)).status, 404);
  assert.equal((await ada.call("POST", `/domains/${name}/verify`)).status, 404);
  assert.deepEqual(bodyAt(await ada.call("GET", "/domains"), 200).domains, []);

  assert.equal((await ada.call("POST", "/domains", { domain: name, app: other })).status, 201);
  assert.equal((await ada.call("DELETE", `/apps/${other}`)).status, 204);
  assert.deepEqual(bodyAt(await ada.call("GET", "/domains"), 200).domains, []);
});

test("names are lower-cased and IDNA-normalized; bad ones are a 400 naming the field and the rule", async () => {
  const ada = await personWithApp(h);
  const base = newDomain("x").slice(2);
  const unicode = bodyAt(await ada.call("POST", "/domains", { domain: `Bücher.${base.toUpperCase()}.`, app: ada.app }), 201).domain;
  assert.equal(unicode.name, `xn--bcher-kva.${base}`);
  assert.equal(unicode.verification.name, `_kws-challenge.xn--bcher-kva.${base}`);
  assert.equal((await ada.call("DELETE", `/domains/${encodeURIComponent(`bücher.${base}`)}`)).status, 204, "the unicode spelling names it too");

  const cases: [unknown, RegExp][] = [
    ["", /host name/],
    ["example", /two labels/],
    ["127.0.0.1", /not an IP address/],
    ["[::1]", /not an IP address/],
    ["::1", /not an IP address/],
    ["１２７.０.０.１", /not an IP address/],
    ["0x7f.1", /not an IP address/],
    ["*.example.org", /wildcard/],
    ["a..example.org", /DNS label/],
    ["-a.example.org", /DNS label/],
    ["under_score.example.org", /letters, digits/],
    ["a/b.example.org", /letters, digits/],
    [`${"a".repeat(64)}.example.org`, /DNS label/],
    [`${"abcdefghi.".repeat(30)}org`, /at most 253/],
    ["xn--zz.example.org", /international/],
    ["shop.kws.app", /kws\.app/],
    ["kws.app", /kws\.app/],
    ["www.kws.test", /kws\.test/],
    ["example.123", /./],
    [42, /string/],
  ];
  for (const [domain, rule] of cases) {
    const res = await ada.call("POST", "/domains", { domain, app: ada.app });
    assert.equal(res.status, 400, `${JSON.stringify(domain)}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, "invalid");
    const issue = res.body.error.issues?.find((i) => i.path === "domain");
    assert.ok(issue, `${JSON.stringify(domain)}: an issue for domain in ${JSON.stringify(res.body.error)}`);
    assert.match(issue.message, rule, JSON.stringify(domain));
  }
});

/** A small seeded generator, so a failing string comes back on the next run. */
function generator(seed: number) {
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
  const labels = ["shop", "Bücher", "пример", "例え", "ß", "xn--bcher-kva", "xn--zz", "a-b", "-a", "a-", "UPPER", "😀", "", "*", "a_b", "1", "0x7f", "a".repeat(63), "a".repeat(64), "ｅｘａｍｐｌｅ", "a b", "a/b", "a@b", "a:80", "%41", "\u200b", "ǅ"];
  const ips = ["127.0.0.1", "10.0.0.1.", "[::1]", "::ffff:1.2.3.4", "1.2.3", "0177.0.0.1", "１２７.０.０.１", "4294967295"];
  return () => {
    const r = next();
    if (r < 0.1) return pick(ips);
    if (r < 0.15) return `${"abcdefghi.".repeat(Math.floor(20 + next() * 15))}com`;
    const n = 1 + Math.floor(next() * 4);
    const name = Array.from({ length: n }, () => pick(labels)).join(".");
    return name + pick(["", "", ".", "..", ".org", ".ORG.", ".kws.app", ".example.org"]);
  };
}

const NORMAL = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

test("500 generated names: each a 400 or a 201 with a valid normalized name, never a 5xx", async () => {
  const ada = await personWithApp(h);
  const next = generator(13);
  const seen = { accepted: 0, refused: 0 };
  for (let i = 0; i < 500; i++) {
    const domain = next();
    const res = await ada.call("POST", "/domains", { domain, app: ada.app });
    if (res.status === 201) {
      const { name } = res.body.domain;
      assert.match(name, NORMAL, `${JSON.stringify(domain)} → ${name}`);
      assert.equal(domainToASCII(name), name, `${name} is its own IDNA form`);
      assert.ok(!name.endsWith("kws.app") && !/^[\d.]+$/.test(name), `${JSON.stringify(domain)} → ${name}`);
      assert.equal((await ada.call("DELETE", `/domains/${name}`)).status, 204);
      seen.accepted++;
    } else {
      assert.equal(res.status, 400, `${JSON.stringify(domain)}: ${res.status} ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.issues?.[0]?.path, "domain", JSON.stringify(domain));
      seen.refused++;
    }
  }
  assert.ok(seen.accepted > 50 && seen.refused > 50, `both kinds were generated: ${JSON.stringify(seen)}`);
});

test("at most 3 domains a person; only their own apps and domains", async () => {
  const ada = await personWithApp(h);
  const bob = await personWithApp(h);
  for (let i = 0; i < 3; i++) assert.equal((await ada.call("POST", "/domains", { domain: newDomain(), app: ada.app })).status, 201);
  assert.equal(bodyAt(await ada.call("POST", "/domains", { domain: newDomain(), app: ada.app }), 409).error.code, "limit");

  const name = bodyAt(await ada.call("GET", "/domains"), 200).domains[0]!.name;
  const foreignApp = bodyAt(await bob.call("POST", "/domains", { domain: newDomain(), app: ada.app }), 404);
  assert.match(foreignApp.error.message, /no app named/);
  assert.equal(bodyAt(await bob.call("POST", "/domains", { domain: newDomain(), app: "x!" }), 400).error.issues?.[0]?.path, "app");
  assert.equal((await bob.call("POST", `/domains/${name}/verify`)).status, 404);
  assert.equal((await bob.call("PATCH", `/domains/${name}`, { app: bob.app })).status, 404);
  assert.equal((await bob.call("DELETE", `/domains/${name}`)).status, 404);
  assert.equal(bodyAt(await ada.call("GET", "/domains"), 200).domains.length, 3, "Bob changed nothing of Ada's");

  const mine = bodyAt(await bob.call("POST", "/domains", { domain: newDomain(), app: bob.app }), 201).domain;
  assert.equal(bodyAt(await bob.call("POST", "/domains", { domain: mine.name, app: bob.app }), 409).error.code, "conflict", "the same name twice");
});

test("two people claim one domain: the one whose record is in DNS gets it, the other's claim is lost with a mail", async () => {
  const ada = await personWithApp(h);
  const bob = await personWithApp(h);
  const name = newDomain();
  const adaClaim = bodyAt(await ada.call("POST", "/domains", { domain: name, app: ada.app }), 201).domain;
  const bobClaim = bodyAt(await bob.call("POST", "/domains", { domain: name, app: bob.app }), 201).domain;
  assert.notEqual(adaClaim.verification.value, bobClaim.verification.value);

  dns.txt.set(bobClaim.verification.name, [bobClaim.verification.value]);
  const adaTry = bodyAt(await ada.call("POST", `/domains/${name}/verify`), 409);
  assert.equal(adaTry.error.code, "unproven");
  assert.ok(adaTry.error.message.includes(bobClaim.verification.value), "Ada is told what is there instead");
  assert.equal(bodyAt(await bob.call("POST", `/domains/${name}/verify`), 200).domain.status, "verified");

  assert.equal(bodyAt(await ada.call("GET", "/domains"), 200).domains[0]?.status, "lost");
  const mail = await h.mailbox.find(ada.account.email, (m) => m.subject.includes(name));
  assert.match(mail.text, /someone else showed the DNS record/);
  assert.match(mail.text, new RegExp(`Hello ${ada.account.firstName}`));
  assert.equal(bodyAt(await ada.call("POST", `/domains/${name}/verify`), 409).error.code, "unproven", "Ada's record is still not there");

  const carol = await personWithApp(h);
  const held = bodyAt(await carol.call("POST", "/domains", { domain: name, app: carol.app }), 409);
  assert.equal(held.error.code, "conflict");
  assert.match(held.error.message, /held by another/);
  // Ada's record appears too: the name stays Bob's while he holds it, and is Ada's once he lets go.
  dns.txt.set(adaClaim.verification.name, [bobClaim.verification.value, adaClaim.verification.value]);
  assert.equal(bodyAt(await ada.call("POST", `/domains/${name}/verify`), 409).error.code, "conflict");
  assert.deepEqual(bodyAt(await bob.call("GET", "/domains"), 200).domains.map((d) => d.status), ["verified"]);
  assert.equal((await bob.call("DELETE", `/domains/${name}`)).status, 204);
  assert.equal(bodyAt(await ada.call("POST", `/domains/${name}/verify`), 200).domain.status, "verified");
});

test("/kws_domains adds a domain, shows the record to create, verifies and removes it", async () => {
  const ada = await personWithApp(h);
  const browser = new Browser(h, ada.cookie);
  assert.match((await browser.get("/")).html, /href="\/kws_domains"/, "the dashboard links the page");
  const name = newDomain();
  const bad = await browser.post("/kws_domains", "/kws_domains", { domain: "not a domain", app: ada.app });
  assert.equal(bad.status, 400);
  assert.match(bad.html, /letters, digits/);

  assert.equal((await browser.post("/kws_domains", "/kws_domains", { domain: name, app: ada.app })).status, 303);
  const page = (await browser.get("/kws_domains")).html;
  assert.ok(page.includes(`value="_kws-challenge.${name}"`), "the record's name is on the page");
  assert.match(page, /data-copy="txt-value-0"/);
  const token = page.match(/value="(kws-verify=[^"]+)"/)?.[1];
  assert.ok(token, "the record's value is on the page");

  const early = await browser.post("/kws_domains", "/kws_domains/verify", { name });
  assert.equal(early.status, 409);
  assert.match(early.html, /found no TXT record/);
  dns.txt.set(`_kws-challenge.${name}`, [token]);
  assert.equal((await browser.post("/kws_domains", "/kws_domains/verify", { name })).status, 303);
  assert.match((await browser.get("/kws_domains")).html, /data-cell="status">verified</);

  assert.equal((await browser.post("/kws_domains", "/kws_domains/remove", { name })).status, 303);
  assert.match((await browser.get("/kws_domains")).html, /data-testid="no-domains"/);
});

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sql } from "drizzle-orm";
import { hashToken } from "../../shared/crypto/tokens";
import { issueVerificationToken, VERIFY_TTL_MS } from "../../functions/auth/verification";
import { bodyAt } from "../support/api";
import { newAccount, signedInUser, startHarness, type Harness } from "../support/harness";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());


async function registered(overrides: Record<string, string> = {}) {
  const account = newAccount(overrides);
  const res = await h.call("POST", "/api/v1/auth/register", { body: account });
  assert.equal(res.status, 201, await res.clone().text());
  return { account, body: await res.json() };
}

function tokenOf(link: string) {
  return new URL(link).searchParams.get("token")!;
}

describe("register", () => {
  test("creates an unverified account, stores the e-mail lower-cased and mails a link", async () => {
    const { account, body } = await registered({ email: `Mixed.${Date.now()}@Example.ORG` });
    assert.equal(body.user.verified, false);
    assert.equal(body.user.email, account.email.toLowerCase());
    const rows = await h.services.db.execute(sql`select email, password_hash from users where id = ${body.user.id}`);
    const row = (rows as unknown as { rows?: any[] }).rows?.[0] ?? (rows as unknown as any[])[0];
    assert.equal(row.email, account.email.toLowerCase());
    assert.match(row.password_hash, /^pbkdf2-sha256-chain\$600000\$/);
    assert.ok(!row.password_hash.includes(account.password));
    const link = await h.mailbox.verificationLink(account.email.toLowerCase());
    assert.ok(tokenOf(link).length >= 22, "token carries at least 128 bits");
  });

  test("a taken e-mail (of a verified account) or username (in any case) is 409 naming the field", async () => {
    const { account } = await registered();
    await h.call("POST", "/api/v1/auth/verify", { body: { token: await h.mailbox.verificationToken(account.email) } });
    const again = await h.call("POST", "/api/v1/auth/register", {
      body: newAccount({ email: account.email.toUpperCase() }),
    });
    assert.equal(again.status, 409);
    const e1 = await again.json();
    assert.equal(e1.error.code, "conflict");
    assert.deepEqual(e1.error.issues?.map((i) => i.path), ["email"]);
    const sameName = await h.call("POST", "/api/v1/auth/register", {
      body: newAccount({ username: account.username.toUpperCase() }),
    });
    assert.equal(sameName.status, 409);
    assert.deepEqual((await sameName.json()).error.issues?.map((i) => i.path), ["username"]);
  });

  test("each rule is enforced and named", async () => {
    const cases: [Record<string, string>, string][] = [
      [{ email: "not-an-address" }, "email"],
      [{ username: "abc" }, "username"],
      [{ username: "1abcdef" }, "username"],
      [{ password: "alllowercase1!" }, "password"],
      [{ password: "NoDigits!!" }, "password"],
      [{ password: "NoSpecial123" }, "password"],
      [{ password: "Sh0rt!" }, "password"],
      [{ firstName: "" }, "firstName"],
      [{ lastName: "Robert'); DROP TABLE users;--" }, "lastName"],
      [{ firstName: "x".repeat(51) }, "firstName"],
    ];
    for (const [override, path] of cases) {
      const res = await h.call("POST", "/api/v1/auth/register", { body: newAccount(override) });
      assert.equal(res.status, 400, `${JSON.stringify(override)} → ${res.status}`);
      const body = await res.json();
      assert.equal(body.error.code, "invalid");
      assert.ok(body.error.issues?.some((i) => i.path === path), `${path} named for ${JSON.stringify(override)}`);
    }
    const unicode = await h.call("POST", "/api/v1/auth/register", {
      body: newAccount({ firstName: "Zoë-Ångström", lastName: "O'Brien Łukasz" }),
    });
    assert.equal(unicode.status, 201, "names in any script are accepted");
  });

  test("sign-ups are rate limited per client address", async () => {
    const ip = "198.51.100.200";
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const res = await h.call("POST", "/api/v1/auth/register", { body: newAccount(), ip });
      statuses.push(res.status);
    }
    assert.deepEqual(statuses, [...Array(10).fill(201), 429]);
  });
});

describe("verify", () => {
  const verify = (token: string) => h.call("POST", "/api/v1/auth/verify", { body: { token } });

  test("the token verifies once; a second use is 410 and an unknown token 404", async () => {
    const { account } = await registered();
    const token = await h.mailbox.verificationToken(account.email);
    const first = await verify(token);
    assert.equal(first.status, 200);
    const second = await verify(token);
    assert.equal(second.status, 410);
    assert.equal((await second.json()).error.code, "gone");
    const unknown = await verify("A".repeat(43));
    assert.equal(unknown.status, 404);
    const missing = await h.call("POST", "/api/v1/auth/verify", { body: {} });
    assert.equal(missing.status, 400);
    assert.deepEqual((await missing.json()).error.issues?.map((i) => i.path), ["token"]);
  });

  test("an expired link is 410 and leaves the account unverified", async () => {
    const { account, body } = await registered();
    const token = await issueVerificationToken(h.services.kv, body.user.id, Date.now() - VERIFY_TTL_MS - 1000);
    const res = await verify(token);
    assert.equal(res.status, 410);
    const login = await h.call("POST", "/api/v1/auth/login", { body: { username: account.username, password: account.password } });
    assert.equal(login.status, 403, "still unverified");
  });

  test("the token is stored only hashed", async () => {
    const { body } = await registered();
    const token = await issueVerificationToken(h.services.kv, body.user.id);
    assert.equal(await h.services.kv.get(`verify:${token}`), null);
    assert.notEqual(await h.services.kv.get(`verify:${await hashToken(token)}`), null);
  });

  test("links of the old form are sent on to the page, which asks before verifying", async () => {
    const { account } = await registered();
    const token = await h.mailbox.verificationToken(account.email);
    const res = await h.call("GET", `/api/v1/auth/verify?token=${token}`, { headers: { accept: "text/html" } });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), `/kws_verify?token=${token}`);
    const login = await h.call("POST", "/api/v1/auth/login", { body: { username: account.username, password: account.password } });
    assert.equal(login.status, 403, "a GET verifies nothing");
  });
});

describe("resend", () => {
  test("answers 202 for any address and mails only unverified accounts", async () => {
    const { account } = await registered();
    const before = h.mailbox.mails.length;
    const res = await h.call("POST", "/api/v1/auth/resend", { body: { email: account.email }, ip: "198.51.100.7" });
    assert.equal(res.status, 202);
    const unknown = await h.call("POST", "/api/v1/auth/resend", { body: { email: "nobody@example.org" }, ip: "198.51.100.8" });
    assert.equal(unknown.status, 202);
    assert.deepEqual(await unknown.json(), await res.json(), "no account enumeration");
    await h.mailbox.latest(account.email);
    assert.equal(h.mailbox.mails.length, before + 1);
  });

  test("is rate limited per address", async () => {
    const email = `limit.${Date.now()}@example.org`;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await h.call("POST", "/api/v1/auth/resend", { body: { email }, ip: `198.51.100.${20 + i}` })).status);
    }
    assert.deepEqual(statuses, [202, 202, 202, 429, 429]);
  });
});

describe("login", () => {
  test("sets an HttpOnly SameSite=Lax session cookie for 24 h", async () => {
    const { cookie } = await signedInUser(h);
    assert.match(cookie, /^kws_session=/);
    const { account } = await registered();
    await h.call("POST", "/api/v1/auth/verify", { body: { token: await h.mailbox.verificationToken(account.email) } });
    const res = await h.call("POST", "/api/v1/auth/login", { body: { username: account.email, password: account.password } });
    assert.equal(res.status, 200, "e-mail works as the login name");
    const setCookie = res.headers.get("set-cookie")!;
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Lax/);
    assert.match(setCookie, /Max-Age=86400/);
    assert.doesNotMatch(setCookie, /Secure/, "not Secure outside production");
    const hashMs = Number(/^hash;dur=([\d.]+)$/.exec(res.headers.get("server-timing") ?? "")?.[1]);
    assert.ok(hashMs > 0, `Server-Timing names the hash's duration: ${res.headers.get("server-timing")}`);
  });

  test("unknown user and wrong password get the same 401", async () => {
    const { account } = await signedInUser(h);
    const wrong = await h.call("POST", "/api/v1/auth/login", { body: { username: account.username, password: "Wrong-Pass-1" }, ip: "192.0.2.50" });
    const unknown = await h.call("POST", "/api/v1/auth/login", { body: { username: "nobody_here", password: "Wrong-Pass-1" }, ip: "192.0.2.50" });
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    const [a, b] = [await wrong.json(), await unknown.json()];
    assert.equal(a.error.message, b.error.message);
    assert.equal(a.error.code, "unauthorized");
    assert.equal(wrong.headers.get("server-timing"), null, "a failed login says nothing about its hash");
  });

  test("unknown user costs about as long as a wrong password", async () => {
    const { account } = await signedInUser(h);
    const time = async (username: string) => {
      const t = performance.now();
      await h.call("POST", "/api/v1/auth/login", { body: { username, password: "Wrong-Pass-1" }, ip: `192.0.2.${Math.floor(Math.random() * 200)}` });
      return performance.now() - t;
    };
    await time("warm_up_user");
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 3; i++) {
      known.push(await time(account.username));
      unknown.push(await time(`ghost_user_${i}`));
    }
    const med = (xs: number[]) => xs.sort((x, y) => x - y)[1]!;
    // Without the dummy hash an unknown user answers in ~1 ms against ~100 ms.
    assert.ok(med(unknown) > med(known) * 0.5, `unknown ${med(unknown)} ms vs known ${med(known)} ms`);
  });

  test("an unverified account gets 403 unverified", async () => {
    const { account } = await registered();
    const res = await h.call("POST", "/api/v1/auth/login", { body: { username: account.username, password: account.password } });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).error.code, "unverified");
  });

  test("more than 5 failures in a burst give 429 with Retry-After, per address and username", async () => {
    const { account } = await signedInUser(h);
    const ip = "192.0.2.99";
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await h.call("POST", "/api/v1/auth/login", { body: { username: account.username, password: "Wrong-Pass-1" }, ip });
      statuses.push(res.status);
      if (res.status === 429) {
        const retry = Number(res.headers.get("retry-after"));
        assert.ok(retry >= 1 && retry <= 10, `Retry-After ${retry}`);
      }
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
    const right = await h.call("POST", "/api/v1/auth/login", { body: { username: account.username, password: account.password }, ip });
    assert.equal(right.status, 429, "even the right password waits");
    const otherIp = await h.call("POST", "/api/v1/auth/login", { body: { username: account.username, password: account.password }, ip: "192.0.2.100" });
    assert.equal(otherIp.status, 200, "another address is not blocked");
  });

  test("parallel attempts cannot slip past the limit", async () => {
    const { account } = await signedInUser(h);
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        h.call("POST", "/api/v1/auth/login", { body: { username: account.username, password: "Wrong-Pass-1" }, ip: "192.0.2.77" }),
      ),
    );
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 401).length, 5, statuses.join(","));
    assert.equal(statuses.filter((s) => s === 429).length, 7);
  });
});

describe("session", () => {
  test("me answers with the session; logout removes it from the KV", async () => {
    const { cookie, account } = await signedInUser(h);
    const me = await h.call("GET", "/api/v1/me", { headers: { cookie } });
    assert.equal(me.status, 200);
    assert.equal((await me.json()).user.username, account.username);
    const sessionKey = `session:${await hashToken(cookie.split("=")[1]!)}`;
    assert.notEqual(await h.services.kv.get(sessionKey), null, "stored under its hash");
    const out = await h.call("POST", "/api/v1/auth/logout", { headers: { cookie } });
    assert.equal(out.status, 204);
    assert.equal(await h.services.kv.get(sessionKey), null);
    const after = await h.call("GET", "/api/v1/me", { headers: { cookie } });
    assert.equal(after.status, 401);
  });

  test("no cookie, a forged cookie: 401", async () => {
    assert.equal((await h.call("GET", "/api/v1/me")).status, 401);
    assert.equal((await h.call("GET", "/api/v1/me", { headers: { cookie: "kws_session=forged" } })).status, 401);
  });
});

describe("health", () => {
  test("healthz and readyz", async () => {
    assert.deepEqual(bodyAt(await h.api("GET", "/healthz"), 200), { status: "ok" });
    const ready = await h.call("GET", "/readyz");
    assert.equal(ready.status, 200);
    assert.equal((await ready.json()).checks.database?.ok, true);
  });

  test("the OpenAPI document lists every route", async () => {
    // The document is no route of its own: only its paths are read.
    const doc = (await (await h.call("GET", "/api/v1/openapi.json")).json()) as { paths: Record<string, unknown> };
    for (const path of ["/api/v1/auth/register", "/api/v1/auth/verify", "/api/v1/auth/login", "/api/v1/auth/logout", "/api/v1/auth/resend", "/api/v1/me", "/api/v1/tokens", "/api/v1/tokens/{id}"]) {
      assert.ok(doc.paths[path], `${path} documented`);
    }
  });
});

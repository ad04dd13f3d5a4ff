import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { clearLoginFailures, REFUSAL_DELAY_MS } from "../../functions/auth/login-limits";
import { defaultRateLimits, type RateLimits } from "../../shared/config";
import type { RateLimitRule } from "../../shared/kv/port";
import { dummyPasswordHash, verifyPassword } from "../../shared/crypto/password";
import { signedInUser, startHarness, type Harness } from "../support/harness";

/** Limits on failed logins that a new name or a new address does not escape. */

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

let nets = 0;
/** A /64 of its own for each caller. */
const network = () => `2001:db8:5eed:${(++nets).toString(16)}`;
const login = (username: string, password: string, ip: string) => h.call("POST", "/api/v1/auth/login", { body: { username, password }, ip });
const random = () => Math.random().toString(36).slice(2, 10);
const limits = (): RateLimits => h.config.rateLimits;

/** The most failures a rule lets through in any window of `windowMs`: the burst, then its refill. */
const mostIn = (rule: RateLimitRule, windowMs: number) => rule.burst + Math.floor((windowMs - 1) / rule.intervalMs);

test("the deployed rules: at most 30 failures per address and 10 per account in any 15 minutes", () => {
  assert.ok(mostIn(defaultRateLimits.loginAddress, 15 * 60_000) <= 30);
  assert.ok(mostIn(defaultRateLimits.loginAccount, 15 * 60_000) <= 10);
});

describe("per client address, across all names", () => {
  test("a burst of failures, unknown names included, then 429 for everyone there; successful logins give theirs back", async () => {
    const { burst } = limits().loginAddress;
    const { account } = await signedInUser(h);
    const net = network();
    // Successful logins from the address first: they must not count against it.
    for (let i = 0; i < 5; i++) assert.equal((await login(account.username, account.password, `${net}::${i + 1}`)).status, 200);

    // 30 logins at once, each with a name nobody has and from another address of the same /64.
    const flood = await Promise.all(Array.from({ length: 30 }, (_, i) => login(`ghost_${random()}`, "Wrong-Pass-1", `${net}::${(i + 100).toString(16)}`)));
    const statuses = flood.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 401).length, burst, statuses.join(","));
    assert.equal(statuses.filter((s) => s === 429).length, 30 - burst, statuses.join(","));
    const refused = flood.find((r) => r.status === 429)!;
    assert.ok(Number(refused.headers.get("retry-after")) >= 1, "Retry-After says when");
    assert.equal((await refused.json()).error.code, "rate_limited");

    assert.equal((await login(account.username, account.password, `${net}::beef`)).status, 429, "even the right password waits there");
    assert.equal((await login(account.username, account.password, `${network()}::1`)).status, 200, "another network is not blocked");
  });

  test("a refused login costs no password hash", async () => {
    const ip = `${network()}::1`;
    await Promise.all(Array.from({ length: limits().loginAddress.burst }, () => login(`ghost_${random()}`, "Wrong-Pass-1", ip)));
    // CPU time, not wall time: a refusal is held back on purpose, and this machine is shared.
    const cpu = async (f: () => Promise<unknown>) => {
      const before = process.cpuUsage();
      await f();
      const used = process.cpuUsage(before);
      return (used.user + used.system) / 1000;
    };
    const hash = await dummyPasswordHash(h.config.passwordIterations);
    const oneHash = await cpu(() => verifyPassword("Wrong-Pass-1", hash));
    const refused = await cpu(async () => {
      const answers = await Promise.all(Array.from({ length: 10 }, () => login(`ghost_${random()}`, "Wrong-Pass-1", ip)));
      assert.deepEqual(new Set(answers.map((r) => r.status)), new Set([429]));
    });
    // The process's own upkeep over the refusals' held second, measured the same way, is not theirs.
    const upkeep = await cpu(() => new Promise((resolve) => setTimeout(resolve, REFUSAL_DELAY_MS)));
    assert.ok(refused - upkeep < oneHash / 2, `10 refused logins took ${refused} ms of CPU (${upkeep} ms idle upkeep), one hash ${oneHash} ms`);
  });
});

describe("per account, across addresses", () => {
  test("failures from as many networks, then the account waits: 429 even with the right password", async () => {
    const { account } = await signedInUser(h);
    for (let i = 0; i < limits().loginAccount.burst; i++) {
      assert.equal((await login(i % 2 ? account.email : account.username, "Wrong-Pass-1", `${network()}::1`)).status, 401, `failure ${i + 1}`);
    }
    const right = await login(account.username, account.password, `${network()}::1`);
    assert.equal(right.status, 429, "username and e-mail share the account's bucket; a new address does not help");
    assert.ok(Number(right.headers.get("retry-after")) >= 1);
  });

  test("clearLoginFailures (a password reset) lets the account sign in again", async () => {
    const { account, userId } = await signedInUser(h);
    await Promise.all(Array.from({ length: limits().loginAccount.burst + 2 }, () => login(account.username, "Wrong-Pass-1", `${network()}::1`)));
    assert.equal((await login(account.username, account.password, `${network()}::1`)).status, 429);
    await clearLoginFailures(h.services.kv, userId);
    assert.equal((await login(account.username, account.password, `${network()}::1`)).status, 200);
  });

  test("a successful login gives its reservation back", async () => {
    const { account } = await signedInUser(h);
    const { burst } = limits().loginAccount;
    for (let i = 0; i < burst - 1; i++) assert.equal((await login(account.username, "Wrong-Pass-1", `${network()}::1`)).status, 401);
    for (let i = 0; i < 3; i++) assert.equal((await login(account.username, account.password, `${network()}::1`)).status, 200);
    assert.equal((await login(account.username, "Wrong-Pass-1", `${network()}::1`)).status, 401, "the last failure of the burst");
    assert.equal((await login(account.username, "Wrong-Pass-1", `${network()}::1`)).status, 429, "one more");
  });

  test("more correct logins at once from one address than its failure burst all succeed (an office behind one NAT)", async () => {
    const people = await Promise.all(Array.from({ length: 4 }, () => signedInUser(h)));
    const ip = `${network()}::1`;
    const attempts = limits().loginAddress.burst + 5;
    const answers = await Promise.all(Array.from({ length: attempts }, (_, i) => login(people[i % 4]!.account.username, people[i % 4]!.account.password, ip)));
    assert.deepEqual(answers.map((r) => r.status), Array(attempts).fill(200));
  });
});

describe("password checks of one client run one at a time", () => {
  test("a burst from one address does not hold up another person's login", async () => {
    const { account } = await signedInUser(h);
    const ip = `${network()}::1`;
    const burst = Array.from({ length: limits().loginAddress.burst }, () => login(`ghost_${random()}`, "Wrong-Pass-1", ip));
    const started = performance.now();
    const other = await login(account.username, account.password, `${network()}::1`);
    const otherMs = performance.now() - started;
    const burstMs = await Promise.all(burst).then(() => performance.now() - started);
    assert.equal(other.status, 200);
    const hashMs = Number(/hash;dur=([\d.]+)/.exec(other.headers.get("server-timing") ?? "")?.[1]);
    // Serialized, the burst takes about `burst` hashes; the other login about one, not a place behind them.
    assert.ok(otherMs < burstMs / 3, `the other login took ${otherMs} ms, the burst ${burstMs} ms (one hash ${hashMs} ms)`);
  });
});

/**
 * The contract every KV adapter keeps (shared/kv/port.ts), as node:test cases.
 * A test file calls `kvContract("name", make)`; `make` gives a fresh, ready KV for each case.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { KV } from "../../shared/kv/port";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` is true or `timeoutMs` passes; returns the elapsed time. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) assert.fail(`${what} did not happen within ${timeoutMs} ms`);
    await sleep(50);
  }
}

let counter = 0;
const key = (what: string) => `contract:${what}:${Date.now().toString(36)}:${(counter++).toString(36)}`;

export function kvContract(name: string, make: () => Promise<KV>) {
  /** One fresh KV per case, closed afterwards. */
  const withKV = (fn: (kv: KV) => Promise<void>) => async () => {
    const kv = await make();
    try {
      await fn(kv);
    } finally {
      await kv.close?.();
    }
  };

  describe(`KV contract: ${name}`, () => {
    test("ping answers", withKV(async (kv) => {
      await kv.ping();
    }));

    test("get of an absent key is null", withKV(async (kv) => {
      assert.equal(await kv.get(key("absent")), null);
    }));

    test("set, get, overwrite", withKV(async (kv) => {
      const k = key("rw");
      assert.equal(await kv.set(k, "one"), true);
      assert.equal(await kv.get(k), "one");
      assert.equal(await kv.set(k, "two"), true);
      assert.equal(await kv.get(k), "two");
    }));

    test("values keep their exact text: unicode, JSON, empty-looking and numeric strings", withKV(async (kv) => {
      const values = ['{"userId":"abc","expiresAt":1}', "grüße ✓ 日本", "0", "OK", "null", " spaced ", "a\nb"];
      for (const [i, v] of values.entries()) {
        const k = key(`text${i}`);
        await kv.set(k, v);
        assert.equal(await kv.get(k), v, `value ${JSON.stringify(v)}`);
      }
    }));

    test("del says whether the key existed", withKV(async (kv) => {
      const k = key("del");
      await kv.set(k, "v");
      assert.equal(await kv.del(k), true);
      assert.equal(await kv.get(k), null);
      assert.equal(await kv.del(k), false);
      assert.equal(await kv.del(key("never")), false);
    }));

    test("keys are independent", withKV(async (kv) => {
      const a = key("a");
      const b = key("b");
      await kv.set(a, "A");
      await kv.set(b, "B");
      await kv.del(a);
      assert.equal(await kv.get(a), null);
      assert.equal(await kv.get(b), "B");
    }));

    test("ttl(): null for an absent key and for a key without expiry, else the seconds left", withKV(async (kv) => {
      assert.equal(await kv.ttl(key("none")), null);
      const forever = key("forever");
      await kv.set(forever, "v");
      assert.equal(await kv.ttl(forever), null);
      const timed = key("timed");
      await kv.set(timed, "v", { ttlSeconds: 60 });
      const left = await kv.ttl(timed);
      assert.ok(left !== null && left >= 58 && left <= 60, `ttl ${left}`);
    }));

    test("a key set with a TTL expires, and ttl() then says null", withKV(async (kv) => {
      const k = key("expiring");
      const stays = key("staying");
      await kv.set(k, "v", { ttlSeconds: 1 });
      await kv.set(stays, "v", { ttlSeconds: 30 });
      assert.equal(await kv.get(k), "v");
      const elapsed = await eventually(async () => (await kv.get(k)) === null, 3000, "expiry of a 1 s key");
      assert.ok(elapsed >= 800, `expired after only ${elapsed} ms`);
      assert.equal(await kv.ttl(k), null);
      assert.equal(await kv.get(stays), "v");
    }));

    test("overwriting without a TTL removes the old expiry", withKV(async (kv) => {
      const k = key("persist");
      await kv.set(k, "v", { ttlSeconds: 60 });
      await kv.set(k, "w");
      assert.equal(await kv.ttl(k), null);
      assert.equal(await kv.get(k), "w");
    }));

    test("onlyIfAbsent writes once and keeps the first value", withKV(async (kv) => {
      const k = key("nx");
      assert.equal(await kv.set(k, "first", { onlyIfAbsent: true }), true);
      assert.equal(await kv.set(k, "second", { onlyIfAbsent: true }), false);
      assert.equal(await kv.get(k), "first");
      await kv.del(k);
      assert.equal(await kv.set(k, "third", { onlyIfAbsent: true }), true);
      assert.equal(await kv.get(k), "third");
    }));

    test("onlyIfAbsent with a TTL: the key expires and can then be written again", withKV(async (kv) => {
      const k = key("nx-ttl");
      assert.equal(await kv.set(k, "first", { onlyIfAbsent: true, ttlSeconds: 1 }), true);
      const left = await kv.ttl(k);
      assert.ok(left !== null && left >= 0 && left <= 1, `ttl ${left}`);
      assert.equal(await kv.set(k, "blocked", { onlyIfAbsent: true, ttlSeconds: 1 }), false);
      await eventually(async () => (await kv.get(k)) === null, 3000, "expiry of a 1 s NX key");
      assert.equal(await kv.set(k, "again", { onlyIfAbsent: true }), true);
      assert.equal(await kv.get(k), "again");
    }));

    test("two concurrent onlyIfAbsent sets: exactly one wins", withKV(async (kv) => {
      for (let round = 0; round < 5; round++) {
        const k = key(`race${round}`);
        const results = await Promise.all([
          kv.set(k, "left", { onlyIfAbsent: true }),
          kv.set(k, "right", { onlyIfAbsent: true }),
        ]);
        assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${results}`);
        assert.equal(await kv.get(k), results[0] ? "left" : "right");
      }
    }));

    test("ten concurrent onlyIfAbsent sets: exactly one wins", withKV(async (kv) => {
      const k = key("race10");
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => kv.set(k, `v${i}`, { onlyIfAbsent: true })),
      );
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await kv.get(k), `v${results.indexOf(true)}`);
    }));

    test("hit(): a burst is allowed, then refused with a retry time within one interval", withKV(async (kv) => {
      const k = key("gcra");
      const rule = { burst: 3, intervalMs: 10_000 };
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(await kv.hit(k, rule), { allowed: true, retryAfterMs: 0 }, `hit ${i + 1}`);
      }
      const refused = await kv.hit(k, rule);
      assert.equal(refused.allowed, false);
      assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= rule.intervalMs, `retryAfterMs ${refused.retryAfterMs}`);
      // A refusal costs nothing: the next one still waits about the same.
      const again = await kv.hit(k, rule);
      assert.equal(again.allowed, false);
      assert.ok(again.retryAfterMs > 0 && again.retryAfterMs <= refused.retryAfterMs, `retryAfterMs ${again.retryAfterMs}`);
      // Another key has its own bucket.
      assert.equal((await kv.hit(key("gcra-other"), rule)).allowed, true);
    }));

    test("hit(): one more hit is allowed after each interval", withKV(async (kv) => {
      const k = key("gcra-refill");
      const rule = { burst: 1, intervalMs: 600 };
      assert.equal((await kv.hit(k, rule)).allowed, true);
      const refused = await kv.hit(k, rule);
      assert.equal(refused.allowed, false);
      await sleep(refused.retryAfterMs + 60);
      assert.equal((await kv.hit(k, rule)).allowed, true);
      assert.equal((await kv.hit(k, rule)).allowed, false);
    }));

    test("hit(): 20 parallel hits on a burst of 5 allow exactly 5", withKV(async (kv) => {
      const k = key("gcra-parallel");
      const rule = { burst: 5, intervalMs: 60_000 };
      const results = await Promise.all(Array.from({ length: 20 }, () => kv.hit(k, rule)));
      assert.equal(results.filter((r) => r.allowed).length, 5);
      for (const r of results.filter((r) => !r.allowed)) assert.ok(r.retryAfterMs > 0);
    }));

    test("refund(): gives back one allowed hit, and never more than were taken", withKV(async (kv) => {
      const k = key("gcra-refund");
      const rule = { burst: 2, intervalMs: 60_000 };
      assert.equal((await kv.hit(k, rule)).allowed, true);
      assert.equal((await kv.hit(k, rule)).allowed, true);
      assert.equal((await kv.hit(k, rule)).allowed, false);
      await kv.refund(k, rule);
      assert.equal((await kv.hit(k, rule)).allowed, true, "the refunded hit is available again");
      assert.equal((await kv.hit(k, rule)).allowed, false);
      for (let i = 0; i < 5; i++) await kv.refund(k, rule);
      assert.equal((await kv.hit(k, rule)).allowed, true);
      assert.equal((await kv.hit(k, rule)).allowed, true);
      assert.equal((await kv.hit(k, rule)).allowed, false, "refunds beyond the hits taken add nothing");
    }));

    test("del of a rate-limit key resets its bucket", withKV(async (kv) => {
      const k = key("gcra-reset");
      const rule = { burst: 1, intervalMs: 60_000 };
      assert.equal((await kv.hit(k, rule)).allowed, true);
      assert.equal((await kv.hit(k, rule)).allowed, false);
      await kv.del(k);
      assert.equal((await kv.hit(k, rule)).allowed, true);
    }));
  });
}

/**
 * The bridge against the real @upstash/redis client and the real Redis (REDIS_URL, default
 * redis://127.0.0.1:6379), plus the raw protocol: auth, errors, encodings, pipeline, multi-exec.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Redis } from "@upstash/redis";
import { startUpstashBridge, type UpstashBridge } from "./server";

const token = `bridge-test-${Math.random().toString(36).slice(2)}`;
const prefix = `bridge-test:${Date.now().toString(36)}:`;
let bridge: UpstashBridge;
let client: Redis;

async function raw(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(bridge.url + path, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as unknown };
}

before(async () => {
  bridge = await startUpstashBridge({ redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379", token });
  client = new Redis({ url: bridge.url, token, retry: false });
});

after(async () => {
  // Leave nothing behind in the shared Redis.
  const keys = await client.keys(`${prefix}*`);
  if (keys.length > 0) await client.del(...keys);
  await bridge.close();
});

describe("@upstash/redis through the bridge", () => {
  test("ping", async () => {
    assert.equal(await client.ping(), "PONG");
  });

  test("set and get, with a unicode value and a JSON value", async () => {
    assert.equal(await client.set(`${prefix}a`, "grüße ✓"), "OK");
    assert.equal(await client.get(`${prefix}a`), "grüße ✓");
    await client.set(`${prefix}obj`, { n: 1, s: "x" });
    assert.deepEqual(await client.get(`${prefix}obj`), { n: 1, s: "x" });
    assert.equal(await client.get(`${prefix}missing`), null);
  });

  test("set with ex, then ttl", async () => {
    await client.set(`${prefix}ex`, "v", { ex: 100 });
    const ttl = await client.ttl(`${prefix}ex`);
    assert.ok(ttl > 95 && ttl <= 100, `ttl ${ttl}`);
    assert.equal(await client.ttl(`${prefix}none`), -2);
    await client.set(`${prefix}forever`, "v");
    assert.equal(await client.ttl(`${prefix}forever`), -1);
  });

  test("set with nx writes only once", async () => {
    assert.equal(await client.set(`${prefix}nx`, "first", { nx: true }), "OK");
    assert.equal(await client.set(`${prefix}nx`, "second", { nx: true }), null);
    assert.equal(await client.get(`${prefix}nx`), "first");
  });

  test("del says how many keys it removed", async () => {
    await client.set(`${prefix}d1`, "1");
    await client.set(`${prefix}d2`, "2");
    assert.equal(await client.del(`${prefix}d1`, `${prefix}d2`, `${prefix}d3`), 2);
    assert.equal(await client.del(`${prefix}d1`), 0);
  });

  test("eval: a Lua script returning an array of numbers, strings and a nested array", async () => {
    const result = await client.eval(
      "redis.call('SET', KEYS[1], ARGV[1]); return {1, redis.call('GET', KEYS[1]), {2, 'deep'}}",
      [`${prefix}lua`],
      ["from lua"],
    );
    assert.deepEqual(result, [1, "from lua", [2, "deep"]]);
  });

  test("a Redis error becomes an UpstashError naming it", async () => {
    await client.set(`${prefix}str`, "not a list");
    await assert.rejects(client.lpush(`${prefix}str`, "x"), /WRONGTYPE/);
  });

  test("pipeline: results in order, an error in the middle stays in its place", async () => {
    const p = client.pipeline();
    p.set(`${prefix}p1`, "one");
    p.incr(`${prefix}p2`);
    p.incr(`${prefix}p1`);
    p.get(`${prefix}p1`);
    const results = await p.exec({ keepErrors: true });
    assert.equal(results[0]!.result, "OK");
    assert.equal(results[1]!.result, 1);
    assert.match(String(results[2]!.error), /not an integer/);
    assert.equal(results[3]!.result, "one");
  });

  test("multi-exec runs as one transaction", async () => {
    const tx = client.multi();
    tx.set(`${prefix}m`, "5");
    tx.incrby(`${prefix}m`, 10);
    tx.get(`${prefix}m`);
    // The client JSON-parses string results by default, so GET's "15" comes back as 15.
    assert.deepEqual(await tx.exec(), ["OK", 15, 15]);
  });
});

describe("the raw protocol", () => {
  test("no token or a wrong token: 401 with a JSON error", async () => {
    const none = await fetch(bridge.url, { method: "POST", body: '["PING"]' });
    assert.equal(none.status, 401);
    assert.match(((await none.json()) as { error: string }).error, /Unauthorized/);
    const wrong = await raw("/", ["PING"], { authorization: "Bearer nope" });
    assert.equal(wrong.status, 401);
  });

  test("without Upstash-Encoding results are plain; with base64 every string is encoded", async () => {
    await raw("/", ["SET", `${prefix}enc`, "plain"]);
    assert.deepEqual(await raw("/", ["GET", `${prefix}enc`]), { status: 200, body: { result: "plain" } });
    const b64 = await raw("/", ["MGET", `${prefix}enc`, `${prefix}nothing`], { "upstash-encoding": "base64" });
    assert.deepEqual(b64.body, { result: [Buffer.from("plain").toString("base64"), null] });
    assert.deepEqual((await raw("/", ["INCR", `${prefix}n`], { "upstash-encoding": "base64" })).body, { result: 1 });
  });

  test("numbers in a command are sent as their decimal text", async () => {
    await raw("/", ["SET", `${prefix}num`, 42, "EX", 60]);
    assert.deepEqual((await raw("/", ["GET", `${prefix}num`])).body, { result: "42" });
  });

  test("a Redis error, malformed JSON or a non-command body: 400 with {error}", async () => {
    const bad = await raw("/", ["NOSUCHCOMMAND"]);
    assert.equal(bad.status, 400);
    assert.match((bad.body as { error: string }).error, /unknown command/i);
    assert.equal((await raw("/", "{not json")).status, 400);
    assert.equal((await raw("/", { cmd: "GET" })).status, 400);
    assert.equal((await raw("/", ["GET", { nested: true }])).status, 400);
  });

  test("connection-state commands are refused", async () => {
    const res = await raw("/", ["SELECT", "1"]);
    assert.equal(res.status, 400);
    assert.match((res.body as { error: string }).error, /not supported/);
  });

  test("pipeline: a malformed entry answers for itself", async () => {
    const res = await raw("/pipeline", [["SET", `${prefix}pp`, "x"], ["SUBSCRIBE", "c"], ["GET", `${prefix}pp`]]);
    assert.equal(res.status, 200);
    const [a, b, c] = res.body as { result?: unknown; error?: string }[];
    assert.deepEqual(a, { result: "OK" });
    assert.match(String(b!.error), /not supported/);
    assert.deepEqual(c, { result: "x" });
  });

  test("multi-exec: a command Redis rejects at queue time aborts the whole transaction", async () => {
    const res = await raw("/multi-exec", [["SET", `${prefix}tx`, "1"], ["NOSUCHCOMMAND"]]);
    assert.equal(res.status, 400);
    assert.match((res.body as { error: string }).error, /EXECABORT|unknown command/i);
    assert.deepEqual((await raw("/", ["GET", `${prefix}tx`])).body, { result: null });
  });

  test("a blocking command runs on its own connection and does not stall others", async () => {
    const blocked = raw("/", ["BLPOP", `${prefix}queue`, "2"]);
    const started = Date.now();
    assert.deepEqual((await raw("/", ["PING"])).body, { result: "PONG" });
    assert.ok(Date.now() - started < 1000, "PING waited for BLPOP");
    await raw("/", ["RPUSH", `${prefix}queue`, "job"]);
    assert.deepEqual((await blocked).body, { result: [`${prefix}queue`, "job"] });
  });

  test("unknown paths and methods", async () => {
    assert.equal((await raw("/nope", ["PING"])).status, 404);
    const get = await fetch(bridge.url, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(get.status, 405);
  });
});

describe("keyPrefix", () => {
  test("every key argument is namespaced, EVAL's KEYS included", async () => {
    const ns = `${prefix}ns:`;
    const prefixed = await startUpstashBridge({ redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379", token, keyPrefix: ns });
    try {
      const inner = new Redis({ url: prefixed.url, token, retry: false, automaticDeserialization: false });
      const k = `bare-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
      await inner.set(k, "v", { ex: 60 });
      await inner.eval("return redis.call('SET', KEYS[1], ARGV[1])", ["lua"], ["w"]);
      assert.equal(await inner.get(k), "v");
      assert.equal(await client.get(`${ns}${k}`), "v");
      assert.equal(await client.get(`${ns}lua`), "w");
      assert.equal(await client.get(k), null);
    } finally {
      await prefixed.close();
    }
  });
});

/**
 * Login throughput and latency against real PostgreSQL and Redis (through the Upstash REST
 * bridge, in-process), over real HTTP (@hono/node-server on 127.0.0.1, a free port).
 *
 *   npm run bench -- auth
 *
 * DATABASE_URL (default postgres://root@127.0.0.1:5432/postgres) is where a kws_bench_* database
 * is created and dropped; REDIS_URL (default redis://127.0.0.1:6379) is the Redis behind the bridge.
 * BENCH_LOGIN_REQUESTS, BENCH_LOGIN_CONCURRENCY, BENCH_LOGIN_SECONDS, BENCH_SEQUENTIAL_SAMPLES
 * change the sizes (defaults 400, 4, 30, 30). BENCH_UPSTASH_URL and BENCH_UPSTASH_TOKEN point the KV at an
 * Upstash endpoint of one's own (e.g. the bridge as its own process) instead of the in-process bridge.
 *
 * The question: how much does a login cost beyond its PBKDF2 check? overheadP50Ms is the p50, over
 * sequential logins, of each login's time at the client minus the time its own hash took in the
 * server (the Server-Timing header of the answer). overheadFromMediansMs answers the same from the
 * p50 of sequential logins minus the p50 of bare verifyPassword calls on the same stored hash,
 * measured interleaved (hashP50Ms): a 600,000-iteration hash varies by tens of ms from one run to
 * the next here, so that difference moves by several ms between runs.
 * `profile` breaks the overhead down: the KV calls of the login path as they ran (timed around the
 * KV port), the user lookup, an HTTP round trip through the app, and the same round trip with a
 * body that fails validation.
 */
import http from "node:http";
import { existsSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { eq } from "drizzle-orm";
import { Redis } from "ioredis";
import postgres from "postgres";
import { issueVerificationToken } from "../functions/auth/verification";
import { createControlPlane } from "../functions/control-plane";
import { createNodeServices, type NodeServices } from "../functions/node-services";
import { findUserByLogin } from "../functions/auth/users";
import { parseConfig, type Config } from "../shared/config";
import { hashPassword, verifyPassword } from "../shared/crypto/password";
import { connectPostgres } from "../shared/db/postgres";
import { users } from "../shared/db/schema";
import type { KV, RateLimitResult, RateLimitRule, SetOptions } from "../shared/kv/port";
import { RedisKV } from "../shared/kv/redis";
import { UpstashKV } from "../shared/kv/upstash";
import { createLogger } from "../shared/logger";
import { deleteRedisKeys } from "./support/common";

const USERS = 8;
const PASSWORD = "Bench-Password-2024!";

function envInt(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

const progress = (msg: string) => process.stderr.write(`[bench auth] ${msg}\n`);

// ---------------------------------------------------------------- statistics

function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}
const round = (ms: number) => Math.round(ms * 100) / 100;
const p50 = (samples: readonly number[]) => round(percentile(samples, 50));

async function time(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

async function sample(n: number, f: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await time(f));
  return out;
}

// ---------------------------------------------------------------- a KV that times its calls

type KvOp = "get" | "set" | "del" | "ttl" | "hit" | "refund";

/** Delegates to the real KV; while `recording`, keeps each call's duration by operation. */
class TimedKV implements KV {
  recording = false;
  readonly times: Record<KvOp, number[]> = { get: [], set: [], del: [], ttl: [], hit: [], refund: [] };

  constructor(private readonly inner: KV) {}

  private async timed<T>(op: KvOp, f: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await f();
    } finally {
      if (this.recording) this.times[op].push(performance.now() - t);
    }
  }

  get(key: string) {
    return this.timed("get", () => this.inner.get(key));
  }
  set(key: string, value: string, options?: SetOptions) {
    return this.timed("set", () => this.inner.set(key, value, options));
  }
  del(key: string) {
    return this.timed("del", () => this.inner.del(key));
  }
  ttl(key: string) {
    return this.timed("ttl", () => this.inner.ttl(key));
  }
  hit(key: string, rule: RateLimitRule): Promise<RateLimitResult> {
    return this.timed("hit", () => this.inner.hit(key, rule));
  }
  refund(key: string, rule: RateLimitRule) {
    return this.timed("refund", () => this.inner.refund(key, rule));
  }
  ping() {
    return this.inner.ping();
  }
  async close() {
    await this.inner.close?.();
  }
}

// ---------------------------------------------------------------- fixtures

/** The bridge is written by someone else at the same time: wait for its file for a while. */
async function loadBridge() {
  const file = fileURLToPath(new URL("../test/upstash-bridge/server.ts", import.meta.url));
  const deadline = Date.now() + 5 * 60_000;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${file} did not appear within 5 minutes`);
    progress("waiting for test/upstash-bridge/server.ts …");
    await new Promise((r) => setTimeout(r, 5000));
  }
  return import("../test/upstash-bridge/server");
}

async function createBenchDatabase(name: string) {
  const base = process.env.DATABASE_URL || "postgres://root@127.0.0.1:5432/postgres";
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    name,
    handle: connectPostgres(url.toString()),
    drop: async () => {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end({ timeout: 5 });
    },
  };
}

interface Account {
  username: string;
  email: string;
}

// node:http with keep-alive: a lighter client than fetch, so the figures are the API's, not the client's.
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 64 });

function post(url: string, body: unknown): Promise<{ status: number; text: string; cookie: string | null; hashMs: number }> {
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: "POST", agent: keepAlive, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString(),
            cookie: res.headers["set-cookie"]?.[0] ?? null,
            hashMs: Number(/hash;dur=([\d.]+)/.exec(String(res.headers["server-timing"] ?? ""))?.[1] ?? Number.NaN),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

function get(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: keepAlive }, (res) => {
        res.resume();
        res.on("end", () => resolve());
        res.on("error", reject);
      })
      .on("error", reject);
  });
}

// ---------------------------------------------------------------- the bench

export async function run(): Promise<Record<string, unknown>> {
  const requests = envInt("BENCH_LOGIN_REQUESTS", 400);
  const concurrency = envInt("BENCH_LOGIN_CONCURRENCY", 4);
  const seconds = envInt("BENCH_LOGIN_SECONDS", 30);
  const sequentialSamples = envInt("BENCH_SEQUENTIAL_SAMPLES", 30);
  const redisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";

  const cleanups: (() => Promise<unknown>)[] = [];
  const databaseName = `kws_bench_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  try {
    // An Upstash endpoint of one's own (a bridge in its own process, or Upstash itself), or the bridge in-process.
    let bridge: { url: string; token: string; where: string };
    const externalUrl = process.env.BENCH_UPSTASH_URL;
    if (externalUrl) {
      bridge = { url: externalUrl, token: process.env.BENCH_UPSTASH_TOKEN ?? "", where: "external" };
    } else {
      const { startUpstashBridge } = await loadBridge();
      const token = crypto.randomUUID();
      const started = await startUpstashBridge({ redisUrl, token });
      cleanups.push(() => started.close());
      bridge = { url: started.url, token, where: "in-process" };
      // Sessions and tokens of the run have TTLs of days: remove the run's keys from the Redis.
      cleanups.push(async () => progress(`deleted ${await deleteRedisKeys(redisUrl, `${databaseName}:`)} keys under ${databaseName}:`));
    }
    progress(`upstash endpoint (${bridge.where}) at ${bridge.url}`);

    const database = await createBenchDatabase(databaseName);
    // Dropped after the services closed their pool (cleanups run in reverse).
    cleanups.push(() => database.drop());
    progress(`database ${database.name}`);

    // Redis over TCP (what a Node deployment uses with REDIS_URL); BENCH_KV=upstash measures the REST path.
    const useUpstash = process.env.BENCH_KV === "upstash";
    const kv = new TimedKV(
      useUpstash
        ? new UpstashKV({ url: bridge.url, token: bridge.token, prefix: `${database.name}:` })
        : new RedisKV({ url: redisUrl, prefix: `${database.name}:` }),
    );
    const parsed = parseConfig({ NODE_ENV: "test" });
    const config: Config = {
      ...parsed,
      rateLimits: {
        ...parsed.rateLimits,
        login: { burst: 1_000_000_000, intervalMs: 1 },
        register: { burst: 1_000_000, intervalMs: 1 },
      },
    };
    const logger = createLogger({ service: "kws-bench" }, { level: "warn", write: (line) => process.stderr.write(`${line}\n`) });
    const services: NodeServices = await createNodeServices(config, logger, { database: database.handle, kv });
    cleanups.push(() => services.close());

    const app = createControlPlane(async () => ({ services }));
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
    });
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        }),
    );
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    progress(`control plane at ${base}`);

    // Accounts: registered and verified over HTTP.
    const accounts: Account[] = [];
    const suffix = Date.now().toString(36);
    for (let i = 0; i < USERS; i++) {
      const account = {
        email: `bench.${suffix}.${i}@example.org`,
        username: `bench_${suffix}_${i}`,
        password: PASSWORD,
        firstName: "Bench",
        lastName: "Mark",
      };
      const reg = await post(`${base}/api/v1/auth/register`, account);
      if (reg.status !== 201) throw new Error(`register: ${reg.status} ${reg.text}`);
      const { user } = JSON.parse(reg.text) as { user: { id: string } };
      const token = await issueVerificationToken(services.kv, user.id);
      const ver = await post(`${base}/api/v1/auth/verify`, { token });
      if (ver.status !== 200) throw new Error(`verify: ${ver.status} ${ver.text}`);
      accounts.push({ username: account.username, email: account.email });
    }
    progress(`${accounts.length} accounts registered and verified`);

    /** One login; answers the time its own password hash took in the server (Server-Timing). */
    const login = async (i: number) => {
      const account = accounts[i % accounts.length]!;
      const res = await post(`${base}/api/v1/auth/login`, { username: account.username, password: PASSWORD });
      if (res.status !== 200 || !res.cookie?.startsWith("kws_session=")) {
        throw new Error(`login: ${res.status} ${res.text}`);
      }
      if (!Number.isFinite(res.hashMs)) throw new Error("login: no Server-Timing hash duration");
      return res.hashMs;
    };
    const [stored] = await services.db.select({ passwordHash: users.passwordHash }).from(users).limit(1);
    if (!stored) throw new Error("no stored password hash");
    const hash = async () => {
      if (!(await verifyPassword(PASSWORD, stored.passwordHash))) throw new Error("verifyPassword: false");
    };

    // Warm-up: JIT, connection pools, keep-alive sockets.
    for (let i = 0; i < 5; i++) {
      await login(i);
      await hash();
    }

    // Sequential: logins and bare hashes interleaved, so drift (CPU clock, other load) hits both alike.
    progress(`sequential: ${sequentialSamples} logins and ${sequentialSamples} verifyPassword, interleaved`);
    const sequentialLogin: number[] = [];
    const hashTimes: number[] = [];
    // Each login minus the hash inside that same login: the overhead without the hash's own spread
    // (tens of ms from one run of 600,000 iterations to the next on these machines).
    const pairedOverhead: number[] = [];
    kv.recording = true;
    for (let i = 0; i < sequentialSamples; i++) {
      let inside = 0;
      const took = await time(async () => {
        inside = await login(i);
      });
      sequentialLogin.push(took);
      pairedOverhead.push(took - inside);
      hashTimes.push(await time(hash));
    }
    kv.recording = false;

    // The parts of the overhead, each on its own.
    const health = await sample(50, async () => {
      const r = await fetch(`${base}/healthz`);
      await r.arrayBuffer();
    });
    // What the machine charges for waking idle processes: the same round trip back to back, and
    // after the processes sat idle as long as a hash takes (a login's hops all follow such a wait).
    const healthBackToBack = await sample(50, () => get(`${base}/healthz`));
    const idleMs = Math.round(percentile(hashTimes, 50));
    const healthAfterIdle: number[] = [];
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, idleMs));
      healthAfterIdle.push(await time(() => get(`${base}/healthz`)));
    }
    const invalidLogin = await sample(50, async () => {
      const r = await post(`${base}/api/v1/auth/login`, { username: "", password: "" });
      if (r.status !== 400) throw new Error(`invalid login: ${r.status}`);
    });
    const findUser = await sample(50, () => findUserByLogin(services.db, accounts[0]!.username));
    const kvGet = await sample(50, () => kv.get(`nothing`));
    // The same login path with a 1,000-iteration hash: the overhead without a 100 ms CPU burst before
    // the KV calls that follow it (cold caches, the event loop idle meanwhile).
    const cheap = accounts[accounts.length - 1]!;
    const cheapHash = await hashPassword(PASSWORD, 1000);
    await services.db.update(users).set({ passwordHash: cheapHash }).where(eq(users.username, cheap.username));
    const cheapLogin: number[] = [];
    const cheapVerify: number[] = [];
    for (let i = 0; i < 50; i++) {
      cheapLogin.push(
        await time(async () => {
          const r = await post(`${base}/api/v1/auth/login`, { username: cheap.username, password: PASSWORD });
          if (r.status !== 200) throw new Error(`cheap login: ${r.status} ${r.text}`);
        }),
      );
      cheapVerify.push(await time(() => verifyPassword(PASSWORD, cheapHash)));
    }
    const redis = new Redis(redisUrl, { lazyConnect: true });
    await redis.connect();
    const redisGet = await sample(50, () => redis.get(`${database.name}:nothing`));
    redis.disconnect();

    // Concurrent: a fixed number of logins (or a time limit), `concurrency` at a time.
    progress(`concurrent: ${requests} logins, ${concurrency} at a time, at most ${seconds} s`);
    const loginTimes: number[] = [];
    let issued = 0;
    const started = performance.now();
    const deadline = started + seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (issued < requests && performance.now() < deadline) {
          const i = issued++;
          loginTimes.push(await time(() => login(i)));
        }
      }),
    );
    const elapsedS = (performance.now() - started) / 1000;

    const sequentialLoginP50Ms = p50(sequentialLogin);
    const hashP50Ms = p50(hashTimes);
    const kvP50 = { hit: p50(kv.times.hit), del: p50(kv.times.del), set: p50(kv.times.set) };
    const kvCallsPerLogin = (kv.times.hit.length + kv.times.del.length + kv.times.set.length + kv.times.get.length) / sequentialSamples;
    return {
      loginRps: Math.round((loginTimes.length / elapsedS) * 10) / 10,
      loginP50Ms: p50(loginTimes),
      loginP99Ms: round(percentile(loginTimes, 99)),
      sequentialLoginP50Ms,
      hashP50Ms,
      // p50 over logins of (the login's time − its own hash's time, from Server-Timing).
      overheadP50Ms: p50(pairedOverhead),
      overheadP99Ms: round(percentile(pairedOverhead, 99)),
      // The same question answered from two separate p50s (sequential logins, bare hashes): exposed to the hash's spread.
      overheadFromMediansMs: round(sequentialLoginP50Ms - hashP50Ms),
      target: "overheadP50Ms <= 2",
      met: p50(pairedOverhead) <= 2,
      requests: loginTimes.length,
      concurrency,
      seconds: Math.round(elapsedS * 10) / 10,
      profile: {
        kv: useUpstash ? `upstash REST, ${bridge.where} bridge` : "redis TCP",
        users: accounts.length,
        sequentialSamples,
        // The login path's KV calls as they ran (UpstashKV → bridge → Redis), p50 each.
        kvCallsPerLogin,
        kvHitP50Ms: kvP50.hit,
        kvDelP50Ms: kvP50.del,
        kvSetP50Ms: kvP50.set,
        kvSequentialSumP50Ms: round(kvP50.hit + kvP50.del + kvP50.set),
        // A KV get in a tight loop, same client and bridge: the REST hop alone.
        kvGetLoopP50Ms: p50(kvGet),
        // The same Redis, straight (no REST hop): what a KV call costs without the HTTP bridge.
        redisDirectGetP50Ms: p50(redisGet),
        // findUserByLogin on the same pool, alone.
        dbFindUserP50Ms: p50(findUser),
        // HTTP round trip through the whole app: GET /healthz, and a login failing validation (400).
        httpHealthP50Ms: p50(health),
        httpInvalidLoginP50Ms: p50(invalidLogin),
        // GET /healthz over the same client, back to back and after an idle wait as long as a hash.
        httpBackToBackP50Ms: p50(healthBackToBack),
        httpAfterIdleP50Ms: p50(healthAfterIdle),
        idleWaitMs: idleMs,
        // Sequential logins of an account whose stored hash has 1,000 iterations, minus that hash.
        cheapHashLoginP50Ms: p50(cheapLogin),
        cheapHashVerifyP50Ms: p50(cheapVerify),
        cheapHashOverheadP50Ms: round(p50(cheapLogin) - p50(cheapVerify)),
        explainedP50Ms: round(p50(invalidLogin) + kvP50.hit + kvP50.del + kvP50.set + p50(findUser)),
      },
    };
  } finally {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((err: unknown) => progress(`cleanup failed: ${err instanceof Error ? err.message : String(err)}`));
    }
  }
}

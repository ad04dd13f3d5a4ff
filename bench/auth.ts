/**
 * Login throughput and latency against real PostgreSQL and Redis (through the Upstash REST
 * bridge, in-process), over real HTTP (@hono/node-server on 127.0.0.1, a free port).
 *
 *   npm run bench -- auth
 *
 * DATABASE_URL (default postgres://root@127.0.0.1:5432/postgres) is where a kws_test_* database
 * is created and dropped; REDIS_URL (default redis://127.0.0.1:6379) is the KV's Redis (over TCP, or
 * behind the bridge with BENCH_KV=upstash).
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
 * `profile` shows the parts of the overhead, each timed on its own: the KV calls of the login path as
 * they ran (timed around the KV port), the user lookup, an HTTP round trip through the app, and the
 * same round trip with a body that fails validation. They are not added up: the login path runs
 * some of them at once (the rate-limit hit beside the user lookup, the limit updates together).
 */
import { serve } from "@hono/node-server";
import { eq } from "drizzle-orm";
import { Redis } from "ioredis";
import type { IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { issueVerificationToken } from "../functions/auth/verification";
import { createControlPlane } from "../functions/control-plane";
import { createNodeServices, type NodeServices } from "../functions/node-services";
import { findUserByLogin } from "../functions/auth/users";
import { parseConfig, type Config } from "../shared/config";
import { hashPassword, verifyPassword } from "../shared/crypto/password";
import { users } from "../shared/db/schema";
import type { KV, RateLimitResult, RateLimitRule, SetOptions } from "../shared/kv/port";
import { RedisKV } from "../shared/kv/redis";
import { UpstashKV } from "../shared/kv/upstash";
import { createLogger } from "../shared/logger";
import { freshPostgresDatabase } from "../test/support/database";
import { POSTGRES_ADMIN_URL } from "../test/support/local-services";
import { startUpstashBridge } from "../test/upstash-bridge/server";
import { closedLoop, deleteRedisKeys, envInt, HttpClient, p50, p99, percentile, progress as progressOf, round, runBench, sample, time } from "./support/common";

const USERS = 8;
const PASSWORD = "Bench-Password-2024!";
const progress = progressOf("auth");

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

// ---------------------------------------------------------------- the bench

/** A request's password-hash time in the server, from its Server-Timing header. */
const hashMsOf = (headers: IncomingHttpHeaders) => Number(/hash;dur=([\d.]+)/.exec(String(headers["server-timing"] ?? ""))?.[1] ?? Number.NaN);

export function run(): Promise<Record<string, unknown>> {
  const requests = envInt("BENCH_LOGIN_REQUESTS", 400);
  const concurrency = envInt("BENCH_LOGIN_CONCURRENCY", 4);
  const seconds = envInt("BENCH_LOGIN_SECONDS", 30);
  const sequentialSamples = envInt("BENCH_SEQUENTIAL_SAMPLES", 30);
  const redisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";
  // Redis over TCP (what a Node deployment uses with REDIS_URL); BENCH_KV=upstash measures the REST path.
  const useUpstash = process.env.BENCH_KV === "upstash";

  return runBench(progress, {
    async setup(cleanups) {
      const database = await freshPostgresDatabase(POSTGRES_ADMIN_URL);
      cleanups.add("database", () => database.drop());
      const prefix = `${new URL(database.url).pathname.slice(1)}:`;
      progress(`database ${prefix.slice(0, -1)}`);

      let kvName = "redis TCP";
      let inner: KV = new RedisKV({ url: redisUrl, prefix });
      const externalUrl = process.env.BENCH_UPSTASH_URL;
      // Sessions and tokens of the run have TTLs of days: remove the run's keys from the Redis (not from an endpoint of someone else's).
      if (!(useUpstash && externalUrl)) cleanups.add("redis keys", async () => progress(`deleted ${await deleteRedisKeys(redisUrl, prefix)} keys under ${prefix}`));
      if (useUpstash) {
        // An Upstash endpoint of one's own (a bridge in its own process, or Upstash itself), or the bridge in-process.
        let endpoint = { url: externalUrl ?? "", token: process.env.BENCH_UPSTASH_TOKEN ?? "", where: "external" };
        if (!externalUrl) {
          const token = crypto.randomUUID();
          const bridge = await startUpstashBridge({ redisUrl, token });
          cleanups.add("bridge", () => bridge.close());
          endpoint = { url: bridge.url, token, where: "in-process" };
        }
        progress(`upstash endpoint (${endpoint.where}) at ${endpoint.url}`);
        kvName = `upstash REST, ${endpoint.where} bridge`;
        inner = new UpstashKV({ url: endpoint.url, token: endpoint.token, prefix });
      }
      const kv = new TimedKV(inner);

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
      cleanups.add("services", () => services.close());

      const app = createControlPlane(async () => ({ services }));
      const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
        const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
      });
      cleanups.add(
        "server",
        () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      );
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      // Keep-alive node:http: a lighter client than fetch, so the figures are the API's, not the client's.
      const client = new HttpClient(base, 64);
      cleanups.add("client", async () => client.close());
      progress(`control plane at ${base}`);

      // Accounts: registered and verified over HTTP.
      const accounts: string[] = [];
      const suffix = Date.now().toString(36);
      for (let i = 0; i < USERS; i++) {
        const username = `bench_${suffix}_${i}`;
        const account = { email: `bench.${suffix}.${i}@example.org`, username, password: PASSWORD, firstName: "Bench", lastName: "Mark" };
        const reg = await client.request("POST", "/api/v1/auth/register", account);
        if (reg.status !== 201) throw new Error(`register: ${reg.status} ${reg.text}`);
        const { user } = JSON.parse(reg.text) as { user: { id: string } };
        const ver = await client.request("POST", "/api/v1/auth/verify", { token: await issueVerificationToken(services.kv, user.id) });
        if (ver.status !== 200) throw new Error(`verify: ${ver.status} ${ver.text}`);
        accounts.push(username);
      }
      progress(`${accounts.length} accounts registered and verified`);
      const [stored] = await services.db.select({ passwordHash: users.passwordHash }).from(users).limit(1);
      if (!stored) throw new Error("no stored password hash");
      return { base, client, services, kv, kvName, prefix, accounts, storedHash: stored.passwordHash };
    },

    async measure({ base, client, services, kv, prefix, accounts, storedHash }) {
      /** One login; answers the time its own password hash took in the server (Server-Timing). */
      const login = async (i: number) => {
        const res = await client.request("POST", "/api/v1/auth/login", { username: accounts[i % accounts.length]!, password: PASSWORD });
        if (res.status !== 200 || !String(res.headers["set-cookie"]?.[0]).startsWith("kws_session=")) throw new Error(`login: ${res.status} ${res.text}`);
        const hashMs = hashMsOf(res.headers);
        if (!Number.isFinite(hashMs)) throw new Error("login: no Server-Timing hash duration");
        return hashMs;
      };
      const hash = async () => {
        if (!(await verifyPassword(PASSWORD, storedHash))) throw new Error("verifyPassword: false");
      };
      const healthz = async () => {
        const r = await client.request("GET", "/healthz");
        if (r.status !== 200) throw new Error(`healthz: ${r.status}`);
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
      const healthBackToBack = await sample(50, healthz);
      const idleMs = Math.round(percentile(hashTimes, 50));
      const healthAfterIdle: number[] = [];
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, idleMs));
        healthAfterIdle.push(await time(healthz));
      }
      const invalidLogin = await sample(50, async () => {
        const r = await client.request("POST", "/api/v1/auth/login", { username: "", password: "" });
        if (r.status !== 400) throw new Error(`invalid login: ${r.status}`);
      });
      const findUser = await sample(50, () => findUserByLogin(services.db, accounts[0]!));
      const kvGet = await sample(50, () => kv.get(`nothing`));
      // The same login path with a 1,000-iteration hash: the overhead without a 100 ms CPU burst before
      // the KV calls that follow it (cold caches, the event loop idle meanwhile).
      const cheap = accounts[accounts.length - 1]!;
      const cheapHash = await hashPassword(PASSWORD, 1000);
      await services.db.update(users).set({ passwordHash: cheapHash }).where(eq(users.username, cheap));
      const cheapLogin: number[] = [];
      const cheapVerify: number[] = [];
      for (let i = 0; i < 50; i++) {
        cheapLogin.push(
          await time(async () => {
            const r = await client.request("POST", "/api/v1/auth/login", { username: cheap, password: PASSWORD });
            if (r.status !== 200) throw new Error(`cheap login: ${r.status} ${r.text}`);
          }),
        );
        cheapVerify.push(await time(() => verifyPassword(PASSWORD, cheapHash)));
      }
      const redis = new Redis(redisUrl, { lazyConnect: true });
      await redis.connect();
      const redisGet = await sample(50, () => redis.get(`${prefix}nothing`));
      redis.disconnect();

      // Concurrent: a fixed number of logins (or a time limit), `concurrency` at a time.
      progress(`concurrent: ${requests} logins, ${concurrency} at a time, at most ${seconds} s`);
      const { results: loginTimes, elapsedS } = await closedLoop(concurrency, requests, seconds, (i) => time(() => login(i)));
      return { sequentialLogin, hashTimes, pairedOverhead, kvTimes: kv.times, health, healthBackToBack, idleMs, healthAfterIdle, invalidLogin, findUser, kvGet, cheapLogin, cheapVerify, redisGet, loginTimes, elapsedS };
    },

    report(f, { kvName, accounts }) {
      const kvCallsPerLogin = (f.kvTimes.hit.length + f.kvTimes.del.length + f.kvTimes.set.length + f.kvTimes.get.length) / sequentialSamples;
      return {
        loginRps: round(f.loginTimes.length / f.elapsedS, 1),
        loginP50Ms: p50(f.loginTimes),
        loginP99Ms: p99(f.loginTimes),
        sequentialLoginP50Ms: p50(f.sequentialLogin),
        hashP50Ms: p50(f.hashTimes),
        // p50 over logins of (the login's time − its own hash's time, from Server-Timing).
        overheadP50Ms: p50(f.pairedOverhead),
        overheadP99Ms: p99(f.pairedOverhead),
        // The same question answered from two separate p50s (sequential logins, bare hashes): exposed to the hash's spread.
        overheadFromMediansMs: round(p50(f.sequentialLogin) - p50(f.hashTimes)),
        target: "overheadP50Ms <= 2",
        met: p50(f.pairedOverhead) <= 2,
        requests: f.loginTimes.length,
        concurrency,
        seconds: round(f.elapsedS, 1),
        profile: {
          kv: kvName,
          users: accounts.length,
          sequentialSamples,
          // The login path's KV calls as they ran (some of them at once), p50 each.
          kvCallsPerLogin,
          kvHitP50Ms: p50(f.kvTimes.hit),
          kvDelP50Ms: p50(f.kvTimes.del),
          kvSetP50Ms: p50(f.kvTimes.set),
          // A KV get in a tight loop, same client: the KV hop alone.
          kvGetLoopP50Ms: p50(f.kvGet),
          // The same Redis, straight: what a KV call costs without the adapter (and, with BENCH_KV=upstash, the REST hop).
          redisDirectGetP50Ms: p50(f.redisGet),
          // findUserByLogin on the same pool, alone.
          dbFindUserP50Ms: p50(f.findUser),
          // HTTP round trip through the whole app: GET /healthz (fetch), and a login failing validation (400).
          httpHealthP50Ms: p50(f.health),
          httpInvalidLoginP50Ms: p50(f.invalidLogin),
          // GET /healthz over the keep-alive client, back to back and after an idle wait as long as a hash.
          httpBackToBackP50Ms: p50(f.healthBackToBack),
          httpAfterIdleP50Ms: p50(f.healthAfterIdle),
          idleWaitMs: f.idleMs,
          // Sequential logins of an account whose stored hash has 1,000 iterations, minus that hash.
          cheapHashLoginP50Ms: p50(f.cheapLogin),
          cheapHashVerifyP50Ms: p50(f.cheapVerify),
          cheapHashOverheadP50Ms: round(p50(f.cheapLogin) - p50(f.cheapVerify)),
        },
      };
    },
  });
}

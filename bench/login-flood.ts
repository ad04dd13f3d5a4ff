/**
 * Does a login flood from one address slow down everyone else's logins?
 *
 *   npm run bench -- login-flood
 *
 * The control plane runs in this process over HTTP (@hono/node-server) on real PostgreSQL (a fresh
 * kws_test_* database on DATABASE_URL, default postgres://root@127.0.0.1:5432/postgres) and Redis
 * over TCP (REDIS_URL, default redis://127.0.0.1:6379; the run's keys under a prefix, removed after).
 * Other people log in one after another with their right passwords, each from a loopback address of
 * their own (127.0.0.10 …). The attacker is another process (bench/support/login-flood-client.ts)
 * sending logins with random unknown names from 127.0.0.66, BENCH_FLOOD_CONCURRENCY (32) at a time.
 * Quiet and flooded phases alternate BENCH_FLOOD_ROUNDS (2) times, BENCH_FLOOD_SAMPLES (20) logins
 * each; a flooded phase is measured once the attacker got its first 429 (its first failures, the
 * per-address burst, cost a hash each: floodHashes). Refusals of a spent address are held 1 s, so
 * this closed-loop attacker sends about concurrency/s once limited; eventLoopDelayMs shows the rest.
 *
 * Target: othersP50 during the flood at most 2× othersP50 without it (ratioP50 <= 2).
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { serve } from "@hono/node-server";
import { inArray } from "drizzle-orm";
import { createControlPlane } from "../functions/control-plane";
import { createNodeServices } from "../functions/node-services";
import { parseConfig, type Config } from "../shared/config";
import { users } from "../shared/db/schema";
import { RedisKV } from "../shared/kv/redis";
import { createLogger } from "../shared/logger";
import { freshPostgresDatabase } from "../test/support/database";
import { POSTGRES_ADMIN_URL } from "../test/support/local-services";
import { Child, deleteRedisKeys, envInt, HttpClient, p50, p99, processCpuSeconds, progress as progressOf, round, runBench, time } from "./support/common";

const progress = progressOf("login-flood");
const USERS = 6;
const PASSWORD = "Bench-Password-2024!";
const ATTACKER = "127.0.0.66";

export function run(): Promise<Record<string, unknown>> {
  const rounds = envInt("BENCH_FLOOD_ROUNDS", 2);
  const samples = envInt("BENCH_FLOOD_SAMPLES", 20);
  const concurrency = envInt("BENCH_FLOOD_CONCURRENCY", 32);
  const redisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";
  return runBench(progress, {
    async setup(cleanups) {
      const db = await freshPostgresDatabase(POSTGRES_ADMIN_URL);
      cleanups.add("database", () => db.drop());
      const prefix = `${new URL(db.url).pathname.slice(1)}:`;
      cleanups.add("redis keys", () => deleteRedisKeys(redisUrl, prefix));
      const parsed = parseConfig({ NODE_ENV: "test" });
      // The accounts are registered from one address; the login limits stay as deployed.
      const config: Config = { ...parsed, rateLimits: { ...parsed.rateLimits, register: { burst: 1_000, intervalMs: 1 } } };
      const logger = createLogger({ service: "kws-bench" }, { level: "warn", write: (line) => process.stderr.write(`${line}\n`) });
      const services = await createNodeServices(config, logger, { database: db.handle, kv: new RedisKV({ url: redisUrl, prefix }) });
      cleanups.add("services", () => services.close());
      const app = createControlPlane(async () => ({ services }));
      const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
        const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
      });
      // Each person's keep-alive connection idles between their logins: longer than Node's 5 s default.
      (server as unknown as Server).keepAliveTimeout = 120_000;
      cleanups.add("server", () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          (server as unknown as Server).closeAllConnections();
        }),
      );
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      progress(`control plane at ${base}, database ${prefix.slice(0, -1)}`);

      // Other people: each with an account and an address of their own, verified in the database.
      const people: { username: string; client: HttpClient }[] = [];
      const ids: string[] = [];
      const suffix = Date.now().toString(36);
      for (let i = 0; i < USERS; i++) {
        const client = new HttpClient(base, 2, `127.0.0.${10 + i}`);
        cleanups.add("client", async () => client.close());
        const username = `flood_${suffix}_${i}`;
        const reg = await client.request("POST", "/api/v1/auth/register", { email: `${username}@example.org`, username, password: PASSWORD, firstName: "Other", lastName: "Person" });
        if (reg.status !== 201) throw new Error(`register: ${reg.status} ${reg.text}`);
        ids.push((JSON.parse(reg.text) as { user: { id: string } }).user.id);
        people.push({ username, client });
      }
      await services.db.update(users).set({ verifiedAt: new Date() }).where(inArray(users.id, ids));
      return { base, people, prefix };
    },

    async measure({ base, people, prefix }, cleanups) {
      let turn = 0;
      // Each login's own hash, from its Server-Timing: whether the flood slows the hash (CPU) or the rest.
      const hashes = { quiet: [] as number[], flood: [] as number[] };
      let phase: keyof typeof hashes = "quiet";
      const othersLogin = async () => {
        const person = people[turn++ % people.length]!;
        const res = await person.client.request("POST", "/api/v1/auth/login", { username: person.username, password: PASSWORD });
        if (res.status !== 200) throw new Error(`login of ${person.username}: ${res.status} ${res.text}`);
        hashes[phase].push(Number(/hash;dur=([\d.]+)/.exec(String(res.headers["server-timing"]))?.[1]));
      };
      // How long the event loop (the server's, in this process) was late, per phase.
      const loopDelay = { quiet: [] as number[], flood: [] as number[] };
      const logins = async (which: keyof typeof hashes) => {
        phase = which;
        const delay = monitorEventLoopDelay({ resolution: 10 });
        delay.enable();
        const out: number[] = [];
        for (let i = 0; i < samples; i++) out.push(await time(othersLogin));
        delay.disable();
        loopDelay[which].push(delay.percentile(50) / 1e6, delay.percentile(99) / 1e6);
        return out;
      };
      for (let i = 0; i < USERS; i++) await othersLogin();
      hashes.quiet.length = 0;

      const quiet: number[] = [];
      const flooded: number[] = [];
      const statuses: Record<string, number> = {};
      let floodRequests = 0;
      let floodSeconds = 0;
      let attackerCpuSeconds = 0;
      let serverCpuFloodSeconds = 0;
      const untilLimited: number[] = [];
      for (let r = 0; r < rounds; r++) {
        progress(`round ${r + 1}/${rounds}: ${samples} logins without a flood`);
        quiet.push(...(await logins("quiet")));
        progress(`round ${r + 1}/${rounds}: flood from ${ATTACKER}, ${concurrency} at a time`);
        const flood = new Child("flood", process.execPath, ["--import", "tsx", fileURLToPath(new URL("./support/login-flood-client.ts", import.meta.url)), base, ATTACKER, String(concurrency)], {});
        cleanups.add("flood", () => flood.stop("SIGKILL"));
        const startedFlood = performance.now();
        await flood.waitFor((l) => l.msg === "limited", 120_000);
        untilLimited.push(performance.now() - startedFlood);
        const cpuBefore = process.cpuUsage();
        flooded.push(...(await logins("flood")));
        const cpu = process.cpuUsage(cpuBefore);
        // The flooded phases follow one another: their CPU seconds and requests add up.
        serverCpuFloodSeconds += (cpu.user + cpu.system) / 1e6;
        attackerCpuSeconds += processCpuSeconds(flood.pid) ?? 0;
        await flood.stop("SIGTERM");
        const done = flood.lines.find((l) => l.msg === "flood done");
        if (!done) throw new Error(`the flood client did not report: ${flood.text.slice(-5).join("\n")}`);
        for (const [status, n] of Object.entries(done.statuses as Record<string, number>)) statuses[status] = (statuses[status] ?? 0) + n;
        floodRequests += done.requests as number;
        floodSeconds += done.seconds as number;
        // The next round's attacker must start from a full bucket, as a new flood would after 15 min.
        await deleteRedisKeys(redisUrl, `${prefix}ratelimit:login-address:`);
      }
      return { quiet, flooded, hashes, loopDelay, statuses, floodRequests, floodSeconds, attackerCpuSeconds, serverCpuFloodSeconds, untilLimited };
    },

    report(f) {
      const ratioP50 = round(p50(f.flooded) / p50(f.quiet));
      return {
        othersQuietP50Ms: p50(f.quiet),
        othersQuietP99Ms: p99(f.quiet),
        othersFloodP50Ms: p50(f.flooded),
        othersFloodP99Ms: p99(f.flooded),
        ratioP50,
        ratioP99: round(p99(f.flooded) / p99(f.quiet)),
        target: "ratioP50 <= 2",
        met: ratioP50 <= 2,
        samplesEach: f.quiet.length,
        othersHashQuietP50Ms: p50(f.hashes.quiet),
        othersHashFloodP50Ms: p50(f.hashes.flood),
        // Per phase: [p50, p99] of the event loop's delay, in ms.
        eventLoopDelayMs: { quiet: f.loopDelay.quiet.map((x) => round(x)), flood: f.loopDelay.flood.map((x) => round(x)) },
        flood: {
          concurrency,
          requests: f.floodRequests,
          rps: round(f.floodRequests / f.floodSeconds, 1),
          statuses: f.statuses,
          // Each 401 ran a password hash; everything after the limit was refused before one.
          floodHashes: f.statuses["401"] ?? 0,
          msUntilLimitedP50: p50(f.untilLimited),
          // The attacker's process shares this machine's 2 cores; a real one would not.
          attackerCpuSeconds: round(f.attackerCpuSeconds, 1),
          // This process (server, and the other people's client) during the measured flooded phases.
          serverCpuSecondsWhileMeasured: round(f.serverCpuFloodSeconds, 1),
        },
      };
    },
  });
}

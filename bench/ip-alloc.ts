/**
 * `npm run bench -- ip-alloc`: 1,000 device registrations fired at once across 400 people on one
 * host whose WireGuard subnet is a /20, through the control plane's API (in-process app, real
 * PostgreSQL). Prints allocations per second, duplicates (must be 0) and errors (must be 0).
 *
 * The host is a row that looks online with WireGuard facts; no agent takes the peer jobs (the
 * in-process queue holds them and goes with the run), since what is measured is the allocation.
 */
import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { createControlPlane } from "../functions/control-plane";
import { generateKeyPair } from "../shared/crypto/x25519";
import { createNodeServices } from "../functions/node-services";
import { hashToken } from "../shared/crypto/tokens";
import { hashPassword } from "../shared/crypto/password";
import { parseConfig } from "../shared/config";
import { apiTokens, devices, hosts, users } from "../shared/db/schema";
import { createLogger } from "../shared/logger";
import { freshPostgresDatabase } from "../test/support/database";
import { POSTGRES_ADMIN_URL } from "../test/support/local-services";
import { envInt, progress, round, runBench } from "./support/common";

const log = progress("ip-alloc");

export function run() {
  const people = envInt("BENCH_IP_PEOPLE", 400);
  const registrations = envInt("BENCH_IP_DEVICES", 1000);
  return runBench(log, {
    async setup(cleanups) {
      const db = await freshPostgresDatabase(POSTGRES_ADMIN_URL);
      cleanups.add("database", () => db.drop());
      const config = parseConfig({ NODE_ENV: "test", GATEWAY_HEARTBEAT_MS: "60000", KWS_SECRET_KEY: randomBytes(32).toString("base64"), LOG_LEVEL: "error" });
      const services = await createNodeServices(config, createLogger({ service: "kws-bench" }, { level: "error" }), { database: db.handle });
      cleanups.add("services", () => services.close());
      const app = createControlPlane(async () => ({ services }));
      const [host] = await services.db
        .insert(hosts)
        .values({
          name: "bench-host",
          connectionId: "bench",
          lastHeartbeatAt: new Date(),
          facts: {
            cpus: 2,
            memoryBytes: 64 * 2 ** 30,
            diskFreeBytes: 2 ** 40,
            runningInstances: 0,
            instances: 0,
            wireguard: { interface: "wg0", publicKey: generateKeyPair().publicKey, listenPort: 51820, address: "10.8.0.1/20", endpoint: "203.0.113.1:51820" },
          },
        })
        .returning();
      // People made directly: 400 PBKDF2 hashes would measure the password hash, not the allocation.
      const passwordHash = await hashPassword("Bench-Mark-123", config.passwordIterations);
      const tokens: string[] = [];
      for (let i = 0; i < people; i++) {
        const [user] = await services.db
          .insert(users)
          .values({ email: `p${i}@bench.example`, username: `bench_${i}`, passwordHash, firstName: "Bench", lastName: "Person", verifiedAt: new Date(), homeHostId: host!.id })
          .returning();
        const secret = `kws_${randomBytes(24).toString("base64url")}`;
        await services.db.insert(apiTokens).values({ userId: user!.id, name: "bench", tokenHash: await hashToken(secret), prefix: secret.slice(0, 8) });
        tokens.push(secret);
      }
      log(`${people} people ready; ${registrations} registrations at once`);
      return { app, services, tokens };
    },

    async measure({ app, services, tokens }) {
      const started = performance.now();
      const statuses = await Promise.all(
        Array.from({ length: registrations }, async (_, i) => {
          const res = await app.request("/api/v1/devices", {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${tokens[i % people]}` },
            body: JSON.stringify({ name: `device ${i}` }),
          });
          if (res.status !== 201) log(`registration ${i}: ${res.status} ${await res.text()}`);
          return res.status;
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      const [counts] = (await services.db
        .select({ rows: sql<number>`count(*)::int`, addresses: sql<number>`count(distinct ${devices.address})::int` })
        .from(devices)) as [{ rows: number; addresses: number }];
      return { seconds, counts, created: statuses.filter((s) => s === 201).length };
    },

    report({ seconds, counts, created }) {
      return {
        registrations,
        people,
        subnet: "10.8.0.0/20",
        allocationsPerSecond: round(created / seconds, 1),
        seconds: round(seconds, 2),
        created,
        duplicates: counts.rows - counts.addresses,
        errors: registrations - created,
        met: counts.rows === counts.addresses && created === registrations,
      };
    },
  });
}

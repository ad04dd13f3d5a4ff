/**
 * `npm run bench -- webhooks`: webhook deliveries to a local receiver (an HTTP server in this
 * process that answers 200 at once) from 100 endpoints (20 people with 5 each), by one delivery
 * worker, on the PostgreSQL of DATABASE_URL (default: the machine's) as production does.
 *
 *   throughput  BENCH_EVENTS events (default 2,000, each to a person's 5 endpoints) recorded while
 *               the worker is stopped, then drained: deliveries/s from the worker's start to the
 *               last arrival
 *   latency     events recorded one at a time (20 ms apart) while the worker runs: from just
 *               before the event's transaction to its arrival at the receiver, p50/p99
 *   baseline    the bare HTTP round trip of the same receiver with the same body (sequential,
 *               keep-alive) p50/p99, and its requests/s with 64 concurrent clients
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomSecretKey } from "../shared/crypto/secret-box";
import { parseConfig } from "../shared/config";
import { users } from "../shared/db/schema";
import { createLogger } from "../shared/logger";
import { LogMailer } from "../shared/mail/log";
import { createNodeServices, type NodeServices } from "../functions/node-services";
import { recordEvent } from "../functions/webhooks/outbox";
import { createWebhook } from "../functions/webhooks/service";
import { WebhookWorker } from "../functions/webhooks/worker";
import { freshPostgresDatabase } from "../test/support/database";
import { POSTGRES_ADMIN_URL } from "../test/support/local-services";
import { closedLoop, envInt, HttpClient, p50, p99, progress, round, runBench, sample, sleep, wallUs } from "./support/common";

const say = progress("webhooks");
const PEOPLE = 20;
const ENDPOINTS_EACH = 5;
const LATENCY_EVENTS = 200;

interface Setup {
  services: NodeServices;
  receiverUrl: string;
  people: string[];
  /** Arrivals: when (wall µs) and the event's own `at` (wall µs when it was recorded). */
  arrivals: { at: number; sentAt: number }[];
  body: string;
}

async function setup(cleanups: Parameters<Parameters<typeof runBench>[1]["setup"]>[0]): Promise<Setup> {
  const arrivals: Setup["arrivals"] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const at = wallUs();
      const sentAt = (JSON.parse(Buffer.concat(chunks).toString()) as { data?: { sentAt?: number } }).data?.sentAt;
      if (typeof sentAt === "number") arrivals.push({ at, sentAt });
      res.writeHead(200).end();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.add("receiver", () => new Promise((resolve) => server.close(resolve)));
  const receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const db = await freshPostgresDatabase(POSTGRES_ADMIN_URL);
  cleanups.add("database", () => db.drop());
  const config = parseConfig({ NODE_ENV: "test", DATABASE_URL: db.url, KWS_SECRET_KEY: randomSecretKey(), KWS_WEBHOOK_ALLOW_PRIVATE: "true", LOG_LEVEL: "warn" });
  const logger = createLogger({ service: "bench-webhooks" }, { level: "warn" });
  const services = await createNodeServices(config, logger, { database: db.handle, mailer: new LogMailer(logger) });
  cleanups.add("services", () => services.queue.close());

  const people: string[] = [];
  for (let i = 0; i < PEOPLE; i++) {
    const n = `${Date.now().toString(36)}${i}`;
    const [user] = await services.db
      .insert(users)
      .values({ email: `bench.${n}@example.org`, username: `bench_${n}`, passwordHash: "x", firstName: "Bench", lastName: "Mark", verifiedAt: new Date() })
      .returning();
    for (let j = 0; j < ENDPOINTS_EACH; j++) await createWebhook(services, user!.id, { url: `${receiverUrl}/p${i}/e${j}`, events: ["job.failed"] });
    people.push(user!.id);
  }
  const body = JSON.stringify({ type: "job.failed", timestamp: new Date().toISOString(), data: { sentAt: 0, job: { id: crypto.randomUUID(), kind: "instance.deploy", status: "failed" } } });
  return { services, receiverUrl, people, arrivals, body };
}

/** An event of person `i`, its data stamped with the wall time just before its transaction. */
const record = (s: Setup, i: number) => {
  const sentAt = wallUs();
  return s.services.db.transaction((tx) =>
    recordEvent(tx, s.people[i % s.people.length]!, "job.failed", { sentAt, job: { id: crypto.randomUUID(), kind: "instance.deploy", status: "failed" } }),
  );
};

async function waitArrivals(s: Setup, count: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (s.arrivals.length < count) {
    if (Date.now() > deadline) throw new Error(`${s.arrivals.length} of ${count} deliveries arrived within ${timeoutMs} ms`);
    await sleep(5);
  }
}

async function measure(s: Setup) {
  const events = envInt("BENCH_EVENTS", 2000);
  const deliveries = events * ENDPOINTS_EACH;

  say("baseline: the bare round trip of the receiver");
  const client = new HttpClient(s.receiverUrl, 64);
  const post = () => client.request("POST", "/bare", JSON.parse(s.body));
  await sample(200, post);
  const bare = await sample(1000, post);
  const bareLoad = await closedLoop(64, 50_000, 3, post);
  client.close();

  say(`throughput: ${events} events (${deliveries} deliveries) recorded, then drained`);
  for (let i = 0; i < events; i += 50) {
    await s.services.db.transaction(async (tx) => {
      for (let j = i; j < Math.min(events, i + 50); j++) {
        await recordEvent(tx, s.people[j % s.people.length]!, "job.failed", { sentAt: 0, job: { id: crypto.randomUUID(), kind: "instance.deploy", status: "failed" } });
      }
    });
  }
  s.arrivals.length = 0;
  const worker = new WebhookWorker({ services: s.services, logger: createLogger({}, { level: "warn" }) });
  const started = performance.now();
  await worker.start();
  await waitArrivals(s, deliveries, 300_000);
  const drainS = (performance.now() - started) / 1000;

  say(`latency: ${LATENCY_EVENTS} events one at a time`);
  s.arrivals.length = 0;
  for (let i = 0; i < LATENCY_EVENTS; i++) {
    await record(s, i);
    await sleep(20);
  }
  await waitArrivals(s, LATENCY_EVENTS * ENDPOINTS_EACH, 30_000);
  const latencies = s.arrivals.map((a) => (a.at - a.sentAt) / 1000);
  await worker.stop();
  return { events, deliveries, drainS, latencies, bare, bareRps: bareLoad.results.length / bareLoad.elapsedS };
}

export function run() {
  return runBench(say, {
    setup,
    measure,
    report: (m) => {
      const deliveriesPerSecond = round(m.deliveries / m.drainS, 1);
      return {
        endpoints: PEOPLE * ENDPOINTS_EACH,
        events: m.events,
        deliveries: m.deliveries,
        deliveriesPerSecond,
        eventToDeliveryP50Ms: p50(m.latencies),
        eventToDeliveryP99Ms: p99(m.latencies),
        bareRoundTripP50Ms: p50(m.bare),
        bareRoundTripP99Ms: p99(m.bare),
        bareRequestsPerSecond: round(m.bareRps, 1),
        deliveriesOverBareRequests: round(deliveriesPerSecond / m.bareRps, 3),
        latencyP50OverBareP50: round(p50(m.latencies) / p50(m.bare), 1),
      };
    },
  });
}

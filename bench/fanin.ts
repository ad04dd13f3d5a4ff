/**
 * Fan-in: 5,000 simulated agents on ONE gateway process; memory per connection and the gateway's
 * CPU share while they heartbeat.
 *
 *   npm run bench -- fanin
 *
 * The gateway is the real `Gateway` (functions/gateway/gateway.ts) on a plain node:http server
 * (bench/support/gateway-server.ts), started with --expose-gc and a raised `ulimit -n`, on a fresh
 * PostgreSQL database holding the hosts and their credentials (inserted directly, enrolled) and on
 * RabbitMQ. The agents are plain `ws` clients in this process: a valid hello, then they only answer
 * pings (ws does that by itself).
 *
 * Memory per connection = (gateway RSS / heapUsed after all connections, after a forced GC) minus
 * the same before them (after a warm-up of BENCH_FANIN_WARMUP connections that came and went),
 * divided by the number of connections. CPU share = the gateway's cpuUsage delta over a
 * BENCH_FANIN_WINDOW_SECONDS window (default 10) divided by the wall time, as a fraction of one core,
 * with the heartbeat at BENCH_FANIN_HEARTBEAT_MS (default 1000 ms, so ~10 beats in the window).
 *
 * The broker: in production every connected host has a durable quorum queue and a consumer on a
 * channel of its own. Two limits make 5,000 of them infeasible on this machine's broker, so by
 * default the gateway runs with a queue that accepts declare/consume and delivers nothing
 * (BENCH_FANIN_QUEUE=none): the figures are the websocket + session cost.
 *   - File handles: RabbitMQ's file_handle_cache allows ~90% of the broker's `ulimit -n` (1024 here:
 *     927) and every quorum queue takes 3 of them just by existing; once they are used up the broker
 *     stops accepting connections (for everyone) until queues are deleted. The bench measures this
 *     with a small probe (quorumQueueProbe: rate, handles per queue, how many more queues fit; the
 *     handle counts come from `rabbitmqctl eval` when the broker is local and rabbitmqctl works).
 *   - Channels: the broker allows channel_max (2047) channels per connection and the production
 *     adapter (shared/queue/amqp.ts) uses one connection with a channel per consumer, so one gateway
 *     process cannot consume more than ~2,045 host queues (`consume` fails with "No channels left to
 *     allocate"; the agent was already welcomed and stays online without ever getting a job).
 * BENCH_FANIN_QUEUE=amqp (production adapter) or =sharded (BENCH_QUEUE_SHARDS connections) measure
 * with real queues and consumers; they refuse to start when the probe says the broker cannot hold
 * the queues (BENCH_FANIN_FORCE=1 overrides: the broker then stops accepting connections meanwhile).
 *
 * BENCH_FANIN_CONNECTIONS (5000), BENCH_FANIN_CONCURRENCY (200 handshakes at a time).
 * DATABASE_URL (default postgres://root@127.0.0.1:5432/postgres), AMQP_URL (default
 * amqp://guest:guest@127.0.0.1:5672).
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { connect, type Channel, type ChannelModel } from "amqplib";
import postgres from "postgres";
import WebSocket from "ws";
import { CONNECT_PATH } from "../functions/gateway/gateway";
import { hashToken, randomToken } from "../shared/crypto/tokens";
import { migrateDatabase } from "../shared/db/migrate";
import { PROTOCOL_VERSION, stamp } from "../shared/protocol/messages";
import { freshPostgresDatabase } from "../test/support/database";
import { brokerFileHandles, Child, envInt, pidsNamed, processCpuSeconds, progress as progressFor, round, rssBytes, runBench, sleep, sumCpuSeconds, until } from "./support/common";

const AMQP_URL = process.env.AMQP_URL || "amqp://guest:guest@127.0.0.1:5672";
const POSTGRES_ADMIN_URL = process.env.DATABASE_URL || "postgres://root@127.0.0.1:5432/postgres";
const TARGET_KB = 30;
/** The per-host queue names of the quorum probe (the product has none since the per-gateway notice queues). */
const hostQueue = (hostId: string) => `kws.host.${hostId}`;

const progress = progressFor("fanin");

interface Stats {
  memory: NodeJS.MemoryUsage;
  cpu: NodeJS.CpuUsage;
  sessions: number;
  uptimeMs: number;
}

interface SimulatedAgent {
  hostId: string;
  ws: WebSocket;
  established: boolean;
  closedBy?: number;
}

async function stats(base: string, gc = false): Promise<Stats> {
  const res = await fetch(`${base}/stats${gc ? "?gc=1" : ""}`);
  if (res.status !== 200) throw new Error(`gateway /stats: ${res.status} ${await res.text()}`);
  return (await res.json()) as Stats;
}

/** The soft fd limit this process runs with (a child shell inherits it). */
function fdLimit(): number {
  try {
    const out = execFileSync("bash", ["-c", "ulimit -Sn"], { encoding: "utf8" }).trim();
    return out === "unlimited" ? Number.POSITIVE_INFINITY : Number(out);
  } catch {
    return Number.NaN;
  }
}

/** Opens one agent connection and resolves once the gateway's welcome arrived. */
function connectAgent(url: string, hostId: string, credential: string, agents: SimulatedAgent[]): Promise<SimulatedAgent> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${credential}` }, perMessageDeflate: false, handshakeTimeout: 60_000 });
    const agent: SimulatedAgent = { hostId, ws, established: false };
    agents.push(agent);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`host ${hostId}: no welcome within 60 s`));
    }, 60_000);
    ws.on("open", () => {
      ws.send(JSON.stringify(stamp({ type: "hello", protocol: PROTOCOL_VERSION, agentVersion: "bench-fanin", lxdVersion: null, degradedReason: "simulated agent" })));
    });
    ws.on("message", (data) => {
      if (agent.established) return;
      const text = Buffer.isBuffer(data) ? data.toString("utf8") : String(data);
      const type = (JSON.parse(text) as { type?: string }).type;
      if (type === "welcome") {
        agent.established = true;
        clearTimeout(timer);
        resolve(agent);
      } else if (type === "refused") {
        clearTimeout(timer);
        reject(new Error(`host ${hostId} refused: ${text}`));
      }
    });
    ws.on("unexpected-response", (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`host ${hostId}: HTTP ${res.statusCode} at the upgrade`));
    });
    ws.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ws.on("close", (code) => {
      agent.closedBy = code;
      clearTimeout(timer);
      if (!agent.established) reject(new Error(`host ${hostId}: closed (${code}) before the welcome`));
    });
  });
}

async function connectAll(url: string, hosts: { id: string; credential: string }[], concurrency: number, agents: SimulatedAgent[]) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, hosts.length) }, async () => {
      while (next < hosts.length) {
        const h = hosts[next++]!;
        await connectAgent(url, h.id, h.credential, agents);
      }
    }),
  );
}

/** How many of the queues exist and have a consumer (checkQueue on a few channels; a missing queue closes its channel). */
async function consumerCounts(conn: ChannelModel, queues: string[]): Promise<{ existing: number; withConsumer: number }> {
  let existing = 0;
  let withConsumer = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      let ch = await conn.createChannel();
      ch.on("error", () => {});
      while (next < queues.length) {
        const q = queues[next++]!;
        try {
          const ok = await ch.checkQueue(q);
          existing++;
          if (ok.consumerCount > 0) withConsumer++;
        } catch {
          ch = await conn.createChannel();
          ch.on("error", () => {});
        }
      }
      await ch.close().catch(() => {});
    }),
  );
  return { existing, withConsumer };
}

async function deleteQueues(conn: ChannelModel, queues: string[]) {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      let ch = await conn.createChannel();
      ch.on("error", () => {});
      while (next < queues.length) {
        const q = queues[next++]!;
        await ch.deleteQueue(q).catch(async () => {
          ch = await conn.createChannel();
          ch.on("error", () => {});
        });
      }
      await ch.close().catch(() => {});
    }),
  );
}

/**
 * Declares and deletes a few quorum queues (the work-queue arguments of shared/queue/amqp.ts): the
 * rate, and how many broker file handles one queue holds, hence how many more the broker can take
 * before it stops accepting connections. Stays within half the free handles.
 */
async function probeQuorumQueues(conn: ChannelModel, tag: string, needed: number): Promise<Record<string, unknown>> {
  const fh0 = brokerFileHandles(AMQP_URL);
  const n = fh0 ? Math.min(100, Math.floor((fh0.limit - fh0.used) / 3 / 2)) : 50;
  if (n < 10) return { skipped: `the broker has only ${fh0 ? fh0.limit - fh0.used : "?"} free file handles`, feasible: false };
  const names = Array.from({ length: n }, (_, i) => `${tag}.${i}`);
  const args = {
    durable: true,
    arguments: {
      "x-queue-type": "quorum",
      "x-single-active-consumer": true,
      "x-delivery-limit": 2,
      "x-dead-letter-exchange": `${tag}.dlx`,
      "x-dead-letter-strategy": "at-least-once",
      "x-overflow": "reject-publish",
    },
  };
  const parallel = async (f: (ch: Channel, q: string) => Promise<unknown>) => {
    let next = 0;
    const t = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        const ch = await conn.createChannel();
        ch.on("error", () => {});
        while (next < names.length) await f(ch, names[next++]!);
        await ch.close();
      }),
    );
    return (performance.now() - t) / 1000;
  };
  let declareS = 0;
  let fh1: ReturnType<typeof brokerFileHandles>;
  let deleteS = 0;
  try {
    declareS = await parallel((ch, q) => ch.assertQueue(q, args));
    fh1 = brokerFileHandles(AMQP_URL);
  } finally {
    deleteS = await parallel((ch, q) => ch.deleteQueue(q));
  }
  const perQueue = fh0 && fh1 ? (fh1.used - fh0.used) / n : undefined;
  const fit = fh0 && perQueue ? Math.floor((fh0.limit - fh0.used) / perQueue) : undefined;
  const declarePerSec = round(n / declareS, 0);
  return {
    probeQueues: n,
    declarePerSec,
    deletePerSec: round(n / deleteS, 0),
    declareSecondsFor: { queues: needed, seconds: round(needed / declarePerSec, 0) },
    ...(fh0
      ? {
          brokerFileHandleLimit: fh0.limit,
          brokerFileHandlesUsedBefore: fh0.used,
          fileHandlesPerQueue: perQueue,
          moreQueuesBeforeBrokerBlocks: fit ?? null,
          feasible: fit !== undefined && fit >= needed,
        }
      : { feasible: null, note: "file handle counts unavailable (no local rabbitmqctl)" }),
    channelMaxPerConnection: (conn.connection as unknown as { channelMax?: number }).channelMax ?? null,
  };
}


export function run(): Promise<Record<string, unknown>> {
  const connections = envInt("BENCH_FANIN_CONNECTIONS", 5000);
  const warmup = envInt("BENCH_FANIN_WARMUP", 200);
  const heartbeatMs = envInt("BENCH_FANIN_HEARTBEAT_MS", 1000);
  const windowSeconds = envInt("BENCH_FANIN_WINDOW_SECONDS", 10);
  const concurrency = envInt("BENCH_FANIN_CONCURRENCY", 200);
  const queueMode = process.env.BENCH_FANIN_QUEUE || "none";
  if (!["sharded", "amqp", "none"].includes(queueMode)) throw new Error(`BENCH_FANIN_QUEUE must be sharded, amqp or none`);
  const shards = envInt("BENCH_QUEUE_SHARDS", 4);
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const deadLetterQueue = `kws.bench.dead.${run}`;

  const limit = fdLimit();
  if (limit < connections + warmup + 200) {
    throw new Error(`this process may open ${limit} files, fewer than ${connections + warmup + 200} sockets: run it under a higher \`ulimit -n\``);
  }

  return runBench(progress, {
    async setup(cleanups) {
      // ------------------------------------------------------------ database with the hosts
      const db = await freshPostgresDatabase(POSTGRES_ADMIN_URL);
      cleanups.add("database", () => db.drop());
      await migrateDatabase(db.handle);
      await db.handle.close();
      const sql = postgres(db.url, { max: 2, onnotice: () => {} });
      cleanups.add("bench pool", () => sql.end({ timeout: 5 }));

      const total = connections + warmup;
      const credentials = Array.from({ length: total }, () => randomToken("kws_host_"));
      const rows = await Promise.all(
        credentials.map(async (credential, i) => ({
          name: i < warmup ? `warmup-${run}-${i}` : `fanin-${run}-${i - warmup}`,
          credential_hash: await hashToken(credential),
          enrolled_at: new Date(),
        })),
      );
      const hosts: { id: string; credential: string }[] = [];
      for (let i = 0; i < rows.length; i += 2000) {
        const chunk = rows.slice(i, i + 2000);
        const inserted: { id: string; name: string }[] = await sql`insert into hosts ${sql(chunk)} returning id::text as id, name`;
        const byName = new Map(inserted.map((r) => [r.name, r.id]));
        chunk.forEach((row, j) => hosts.push({ id: byName.get(row.name)!, credential: credentials[i + j]! }));
      }
      const warmHosts = hosts.slice(0, warmup);
      const benchHosts = hosts.slice(warmup);
      progress(`database ${new URL(db.url).pathname.slice(1)}: ${total} enrolled hosts (${warmup} for the warm-up)`);

      // ------------------------------------------------------------ broker
      const amqp = await connect(AMQP_URL, { timeout: 60_000 });
      cleanups.add("amqp connection", () => amqp.close());
      progress("quorum queue probe");
      const quorumQueueProbe = await probeQuorumQueues(amqp, `kws.bench.probe.${run}`, total);
      progress(`quorum queues: ${JSON.stringify(quorumQueueProbe)}`);
      if (queueMode !== "none" && quorumQueueProbe.feasible === false && process.env.BENCH_FANIN_FORCE !== "1") {
        throw new Error(
          `BENCH_FANIN_QUEUE=${queueMode} needs ${total} quorum queues, more than this broker can hold before it stops accepting ` +
            `connections (${JSON.stringify(quorumQueueProbe)}); raise its file limit, or set BENCH_FANIN_FORCE=1`,
        );
      }
      const queues = hosts.map((h) => hostQueue(h.id));
      if (queueMode !== "none") cleanups.add("host queues", () => deleteQueues(amqp, queues));
      // On the connection already open: right after a gateway with thousands of quorum-queue consumers
      // closes its connections, the broker can take over 10 s to accept a new one.
      cleanups.add("dead-letter queue", async () => {
        const ch = await amqp.createChannel();
        ch.on("error", () => {});
        await ch.deleteQueue(deadLetterQueue);
        await ch.deleteExchange(`${deadLetterQueue}.dlx`);
        await ch.close();
      });

      // ------------------------------------------------------------ the gateway
      const entry = fileURLToPath(new URL("./support/gateway-server.ts", import.meta.url));
      const gateway = new Child(
        "gateway",
        "bash",
        ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null; exec "$0" "$@"', process.execPath, "--expose-gc", "--import", "tsx", entry],
        {
          NODE_ENV: "test",
          DATABASE_URL: db.url,
          AMQP_URL,
          KWS_DEAD_LETTER_QUEUE: deadLetterQueue,
          GATEWAY_HEARTBEAT_MS: String(heartbeatMs),
          LOG_LEVEL: "warn",
          BENCH_QUEUE: queueMode,
          BENCH_QUEUE_SHARDS: String(shards),
          REDIS_URL: "",
          UPSTASH_REDIS_REST_URL: "",
          UPSTASH_REDIS_REST_TOKEN: "",
          SMTP_URL: "",
        },
        Boolean(process.env.KWS_BENCH_LOG),
      );
      cleanups.add("gateway", () => gateway.stop("SIGTERM", 30_000));
      const listening = await gateway.waitFor((l) => l.msg === "gateway listening", 60_000);
      const base = `http://127.0.0.1:${listening.port as number}`;
      const wsUrl = `ws://127.0.0.1:${listening.port as number}${CONNECT_PATH}`;
      progress(`gateway pid ${gateway.pid} at ${base}, queue ${queueMode}${queueMode === "sharded" ? ` (${shards} connections)` : ""}, heartbeat ${heartbeatMs} ms`);

      const agents: SimulatedAgent[] = [];
      cleanups.add("agents", async () => {
        for (const a of agents) a.ws.terminate();
      });
      const errorsLogged = () => gateway.lines.filter((l) => l.level === "error").length;

      return { sql, warmHosts, benchHosts, amqp, quorumQueueProbe, gateway, base, wsUrl, agents, errorsLogged };
    },

    async measure({ sql, warmHosts, benchHosts, amqp, gateway, base, wsUrl, agents, errorsLogged }) {
      // ------------------------------------------------------------ warm-up, then the baseline
      const warmAgents: SimulatedAgent[] = [];
      await connectAll(wsUrl, warmHosts, concurrency, warmAgents);
      agents.push(...warmAgents);
      await sleep(1000);
      for (const a of warmAgents) a.ws.close(1000, "warm-up over");
      await until(async () => (await stats(base)).sessions === 0, 30_000, "warm-up sessions gone", gateway);
      await sleep(2000);
      const before = await stats(base, true);
      const brokerPids = pidsNamed("beam.smp");
      const brokerRssBefore = rssBytes(brokerPids[0]);
      progress(`baseline after ${warmup} warm-up connections: rss ${(before.memory.rss / 2 ** 20).toFixed(1)} MiB, heap ${(before.memory.heapUsed / 2 ** 20).toFixed(1)} MiB`);

      // ------------------------------------------------------------ 5,000 agents
      progress(`connecting ${connections} agents, ${concurrency} handshakes at a time`);
      const connectStarted = performance.now();
      const benchAgents: SimulatedAgent[] = [];
      const connecting = connectAll(wsUrl, benchHosts, concurrency, benchAgents);
      const ticker = setInterval(() => progress(`  ${benchAgents.filter((a) => a.established).length} welcomed`), 5000);
      try {
        await connecting;
      } finally {
        clearInterval(ticker);
        agents.push(...benchAgents);
      }
      const connectSeconds = round((performance.now() - connectStarted) / 1000, 1);
      progress(`${connections} welcomed in ${connectSeconds} s`);

      // A welcome comes before the host's queue is declared and consumed: wait for the consumers.
      let consumers: { existing: number; withConsumer: number } | undefined;
      if (queueMode !== "none") {
        const benchQueues = benchHosts.map((h) => hostQueue(h.id));
        const deadline = Date.now() + 90_000;
        let lastErrors = -1;
        for (;;) {
          consumers = await consumerCounts(amqp, benchQueues);
          const errors = errorsLogged();
          if (consumers.withConsumer === connections) break;
          // Consumers that failed (amqp mode past channel_max) are logged as errors: stop once nothing moves.
          if (errors > 0 && errors === lastErrors) break;
          if (Date.now() > deadline) break;
          lastErrors = errors;
          await sleep(2000);
        }
        progress(`queues: ${consumers.existing} declared, ${consumers.withConsumer} with a consumer; ${errorsLogged()} errors logged by the gateway`);
      }
      const consumersReadySeconds = round((performance.now() - connectStarted) / 1000, 1);
      await sleep(1000);
      const after = await stats(base, true);
      const brokerRssAfter = rssBytes(brokerPids[0]);

      // ------------------------------------------------------------ CPU while they heartbeat
      progress(`CPU window: ${windowSeconds} s`);
      const droppedBefore = benchAgents.filter((a) => a.closedBy !== undefined).length;
      const [windowStart] = await sql<{ t: Date }[]>`select now() as t`;
      const w0 = { stats: await stats(base), at: performance.now(), broker: sumCpuSeconds(brokerPids), postgres: sumCpuSeconds(pidsNamed("postgres")), bench: process.cpuUsage() };
      await sleep(windowSeconds * 1000);
      const w1 = { stats: await stats(base), at: performance.now(), broker: sumCpuSeconds(brokerPids), postgres: sumCpuSeconds(pidsNamed("postgres")), bench: process.cpuUsage(w0.bench) };
      const dropped = benchAgents.filter((a) => a.closedBy !== undefined).length;

      const [online] = await sql<{ online: number; fresh: number; beatInWindow: number }[]>`
        select count(*) filter (where connection_id is not null)::int as online,
               count(*) filter (where connection_id is not null and last_heartbeat_at > now() - make_interval(secs => ${(2 * heartbeatMs) / 1000}))::int as fresh,
               count(*) filter (where last_heartbeat_at > ${windowStart!.t})::int as "beatInWindow"
        from hosts where name like ${`fanin-${run}-%`}`;

      const gatewayCpuSecondsTotal = round(processCpuSeconds(gateway.pid) ?? 0, 1);

      // ------------------------------------------------------------ orderly teardown (measured)
      const teardownStarted = performance.now();
      for (const a of agents) a.ws.close(1000, "bench over");
      await until(async () => (await stats(base)).sessions === 0, 60_000, "sessions closed", gateway).catch((err: unknown) => progress(String(err)));
      await gateway.stop("SIGTERM", 30_000);
      const disconnectSeconds = round((performance.now() - teardownStarted) / 1000, 1);

      progress(`rss ${((after.memory.rss - before.memory.rss) / 2 ** 20).toFixed(1)} MiB and heap ${((after.memory.heapUsed - before.memory.heapUsed) / 2 ** 20).toFixed(1)} MiB more for ${connections} connections, online ${online!.online}`);
      return { before, after, brokerRssBefore, brokerRssAfter, connectSeconds, consumers, consumersReadySeconds, w0, w1, droppedBefore, dropped, online: online!, gatewayCpuSecondsTotal, disconnectSeconds, errorsLogged: errorsLogged() };
    },

    report(
      { before, after, brokerRssBefore, brokerRssAfter, connectSeconds, consumers, consumersReadySeconds, w0, w1, droppedBefore, dropped, online, gatewayCpuSecondsTotal, disconnectSeconds, errorsLogged },
      { quorumQueueProbe },
    ) {
      const wallS = (w1.at - w0.at) / 1000;
      const gatewayCpuS = (w1.stats.cpu.user - w0.stats.cpu.user + w1.stats.cpu.system - w0.stats.cpu.system) / 1e6;
      const gatewayCpuShare = round(gatewayCpuS / wallS, 3);
      const rssPerConnectionKB = round((after.memory.rss - before.memory.rss) / connections / 1024, 1);
      const heapPerConnectionKB = round((after.memory.heapUsed - before.memory.heapUsed) / connections / 1024, 1);
      const heapTotalPerConnectionKB = round((after.memory.heapTotal - before.memory.heapTotal) / connections / 1024, 1);
      const externalPerConnectionKB = round((after.memory.external - before.memory.external) / connections / 1024, 1);

      return {
        connections,
        rssPerConnectionKB,
        heapPerConnectionKB,
        targetKB: TARGET_KB,
        // Per connection in production is a session and a host queue with its consumer: without real
        // queues (BENCH_FANIN_QUEUE=none) the figures leave the queues out, so they meet nothing.
        ...(queueMode === "none" ? {} : { met: rssPerConnectionKB <= TARGET_KB && heapPerConnectionKB <= TARGET_KB }),
        gatewayCpuShare,
        heartbeatMs,
        connectSeconds,
        online: online.online,
        queueMode,
        ...(queueMode === "sharded" ? { amqpConnections: shards } : {}),
        quorumQueueProbe,
        profile: {
          note:
            "RSS after a forced GC keeps pages the process committed before the baseline (start-up, warm-up) and reuses them, " +
            "so rssPerConnectionKB can understate; heapPerConnectionKB (live JS objects) is the steadier figure",
          heapTotalPerConnectionKB,
          externalPerConnectionKB,
          rssBeforeMiB: round(before.memory.rss / 2 ** 20, 1),
          rssAfterMiB: round(after.memory.rss / 2 ** 20, 1),
          heapBeforeMiB: round(before.memory.heapUsed / 2 ** 20, 1),
          heapAfterMiB: round(after.memory.heapUsed / 2 ** 20, 1),
          sessionsAfter: after.sessions,
          onlineFresh: online.fresh,
          heartbeatWrittenInWindow: online.beatInWindow,
          droppedDuringWindow: dropped - droppedBefore,
          windowSeconds: round(wallS, 1),
          gatewayCpuSecondsInWindow: round(gatewayCpuS, 2),
          postgresCoresInWindow: round((w1.postgres - w0.postgres) / wallS, 3),
          brokerCoresInWindow: round((w1.broker - w0.broker) / wallS, 3),
          benchClientsCoresInWindow: round((w1.bench.user + w1.bench.system) / 1e6 / wallS, 3),
          ...(consumers
            ? {
                quorumQueuesDeclared: consumers.existing,
                consumers: consumers.withConsumer,
                consumersReadySeconds,
                brokerRssDeltaMiB: brokerRssBefore && brokerRssAfter ? round((brokerRssAfter - brokerRssBefore) / 2 ** 20, 0) : null,
              }
            : {}),
          gatewayErrorsLogged: errorsLogged,
          disconnectSeconds,
          gatewayCpuSecondsTotal,
        },
      };
    },
  });
}

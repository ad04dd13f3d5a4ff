/**
 * Round trip of `noop` jobs through the real pipeline: API → RabbitMQ → gateway → agent → result
 * stored, with one gateway and 50 real agents (agent/agent.ts), against the raw amqplib round
 * trip on the same broker.
 *
 *   npm run bench -- dispatch
 *
 * Processes: the control plane with its gateway (`main/embedded.ts`, LOG_LEVEL=warn) on a fresh
 * PostgreSQL database and RabbitMQ; 50 agents in a second process (bench/support/agents.ts, each
 * with its own state directory, degraded: no LXD); this process submits jobs over HTTP with an
 * admin API token and watches the jobs table.
 *
 * Latency of a job = `finished_at` of its row (set by PostgreSQL when the result is stored) minus
 * the wall-clock time the submit request started (same machine, same clock; the offset between
 * the two clocks is measured and reported as clockOffsetMs). Completion is detected by polling the
 * jobs still in flight in one indexed query every BENCH_DISPATCH_POLL_MS (default 10); the poll
 * delay only affects when the next job is submitted, not the latency. Polling every 2 ms took a
 * fifth of a core of PostgreSQL under load, more than the pipeline's own statements.
 *
 * Load: BENCH_DISPATCH_INFLIGHT jobs in flight (submitted, not yet stored; default 48), spread
 * round-robin over the 50 hosts, for BENCH_DISPATCH_SECONDS (default 20) or BENCH_DISPATCH_JOBS
 * (default 20000) jobs. The raw baseline (a durable quorum queue, publisher confirms, consumer
 * acks) runs with the same number in flight, and once with one in flight.
 *
 * `profile` explains the time: the DB-timestamp breakdown of each job (loaded and one at a time),
 * CPU per process during the run, and single operations timed alone (DB statements, the declare
 * that every submit does, a publish confirm, an fdatasync like the agent journal's).
 * BENCH_DISPATCH_WHATIF=nodelay,declare-once runs the control plane with bench/support/whatif.ts
 * (in-memory patches: TCP_NODELAY on the AMQP socket; declare a queue once per process) to measure
 * what those changes would give. BENCH_DISPATCH_CPU_PROF=1 (or =/dir to keep the file) profiles
 * the control plane and summarises where its CPU went.
 *
 * DATABASE_URL (default postgres://root@127.0.0.1:5432/postgres): where the kws_test_* database
 * is created and dropped. AMQP_URL (default amqp://guest:guest@127.0.0.1:5672).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type Channel, type ChannelModel } from "amqplib";
import postgres from "postgres";
import { hostQueue } from "../functions/core/jobs/queue-names";
import { freshPostgresDatabase } from "../test/support/database";
import { freePort } from "../test/support/processes";
import {
  brokerFileHandles,
  Child,
  Cleanups,
  envInt,
  HttpClient,
  machineCpu,
  p50,
  p99,
  pidsNamed,
  processCpuSeconds,
  progress as progressFor,
  round,
  sample,
  sleep,
  sumCpuSeconds,
  until,
  wallUs,
} from "./support/common";

const AGENTS = 50;
const AMQP_URL = process.env.AMQP_URL || "amqp://guest:guest@127.0.0.1:5672";
const POSTGRES_ADMIN_URL = process.env.DATABASE_URL || "postgres://root@127.0.0.1:5432/postgres";
const PASSWORD = "Bench-Admin-Pass-123";

const progress = progressFor("dispatch");

type Json = Record<string, any>;

interface Submitted {
  id: string;
  /** Wall clock (µs) when the submit request started. */
  startUs: number;
  /** Client-side duration of the submit request (HTTP 202 received). */
  httpMs: number;
}

interface JobTimes {
  id: string;
  status: string;
  createdUs: number;
  startedUs: number | null;
  finishedUs: number | null;
}

// ---------------------------------------------------------------- the raw AMQP baseline

interface RawResult {
  p50Ms: number;
  p99Ms: number;
  msgsPerSec: number;
  messages: number;
  confirmP50Ms: number;
}

/**
 * publish (persistent, confirmed) → consume (acked) on one durable quorum queue; `inflight`
 * messages at a time, each slot waiting for both the confirm and the delivery of its message.
 */
async function rawRoundTrip(conn: ChannelModel, queue: string, inflight: number, seconds: number, maxMessages: number): Promise<RawResult> {
  const pub = await conn.createConfirmChannel();
  const sub = await conn.createChannel();
  await sub.prefetch(Math.max(64, inflight * 2));
  const waiting = new Map<string, (at: number) => void>();
  const { consumerTag } = await sub.consume(queue, (msg) => {
    if (!msg) return;
    const at = performance.now();
    sub.ack(msg);
    const id = msg.properties.messageId as string;
    waiting.get(id)?.(at);
    waiting.delete(id);
  });
  const latencies: number[] = [];
  const confirms: number[] = [];
  let sent = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const body = Buffer.from(JSON.stringify({ jobId: "00000000-0000-0000-0000-000000000000" }));
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (sent < maxMessages && performance.now() < deadline) {
        const id = `m${sent++}`;
        const consumed = new Promise<number>((resolve) => waiting.set(id, resolve));
        const t0 = performance.now();
        const confirmed = new Promise<number>((resolve, reject) =>
          pub.sendToQueue(queue, body, { persistent: true, messageId: id, contentType: "application/json" }, (err: unknown) =>
            err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(performance.now()),
          ),
        );
        const [c, d] = await Promise.all([confirmed, consumed]);
        confirms.push(c - t0);
        latencies.push(d - t0);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await sub.cancel(consumerTag);
  await sub.close();
  await pub.close();
  return {
    p50Ms: p50(latencies),
    p99Ms: p99(latencies),
    msgsPerSec: round(latencies.length / elapsed, 1),
    messages: latencies.length,
    confirmP50Ms: p50(confirms),
  };
}

// ---------------------------------------------------------------- the bench

export async function run(): Promise<Record<string, unknown>> {
  const inflight = envInt("BENCH_DISPATCH_INFLIGHT", 48);
  const seconds = envInt("BENCH_DISPATCH_SECONDS", 20);
  const maxJobs = envInt("BENCH_DISPATCH_JOBS", 20_000);
  const pollMs = envInt("BENCH_DISPATCH_POLL_MS", 10);
  const warmupJobs = envInt("BENCH_DISPATCH_WARMUP", 400);
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const deadLetterQueue = `kws.bench.dead.${run}`;
  const rawQueue = `kws.bench.raw.${run}`;
  const dir = mkdtempSync(join(tmpdir(), "kws-bench-dispatch-"));

  const cleanups = new Cleanups(progress);
  const cleanup = (what: string, f: () => Promise<unknown>) => cleanups.add(what, f);
  cleanup("temp dir", async () => rmSync(dir, { recursive: true, force: true }));
  try {
    // ------------------------------------------------------------ database, broker
    const db = await freshPostgresDatabase(POSTGRES_ADMIN_URL);
    await db.handle.close();
    cleanup("database", () => db.drop());
    const sql = postgres(db.url, { max: 4, onnotice: () => {} });
    cleanup("bench pool", () => sql.end({ timeout: 5 }));
    progress(`database ${new URL(db.url).pathname.slice(1)}`);

    // 51 quorum queues hold 153 of the broker's file handles; when they run out it stops accepting connections.
    const handles = brokerFileHandles(AMQP_URL);
    if (handles && handles.limit - handles.used < 3 * (AGENTS + 1) + 100) {
      throw new Error(`the broker has ${handles.limit - handles.used} free file handles, too few for ${AGENTS + 1} more quorum queues (3 each)`);
    }

    // The baseline is the broker's own cost: TCP_NODELAY on (amqplib's default is off, i.e. Nagle's
    // algorithm, which holds a publish written right after an ack for the peer's delayed ACK, ~40 ms).
    const amqp = await connect(AMQP_URL, { noDelay: true });
    cleanup("amqp connection", () => amqp.close());
    const amqpDefault = await connect(AMQP_URL);
    cleanup("amqp connection (amqplib defaults)", () => amqpDefault.close());
    const hostIds: string[] = [];
    // Runs after the hosts were deleted through the API (cleanups run in reverse): any host queue
    // that survived (the API failed, the control plane died) is deleted here, and so are the rest.
    cleanup("leftover queues", async () => {
      const ch = await amqp.createChannel();
      ch.on("error", () => {});
      for (const q of [rawQueue, ...hostIds.map(hostQueue)]) await ch.deleteQueue(q).catch(() => {});
      await ch.close().catch(() => {});
    });
    cleanup("dead-letter queue", async () => {
      const ch = await amqp.createChannel();
      ch.on("error", () => {});
      await ch.deleteQueue(deadLetterQueue);
      await ch.deleteExchange(`${deadLetterQueue}.dlx`);
      await ch.close();
    });

    // ------------------------------------------------------------ control plane + gateway
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const adminEmail = `admin.${run}@example.org`;
    const whatIf = (process.env.BENCH_DISPATCH_WHATIF ?? "").trim();
    // BENCH_DISPATCH_CPU_PROF=1: profile in the temp dir (removed); =/some/dir: kept there.
    const cpuProfEnv = process.env.BENCH_DISPATCH_CPU_PROF;
    const cpuProfDir = cpuProfEnv ? (cpuProfEnv.startsWith("/") ? cpuProfEnv : join(dir, "cpu-profile")) : undefined;
    const controlPlane = new Child(
      "control-plane",
      process.execPath,
      [
        ...(cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`] : []),
        "--import",
        "tsx",
        ...(whatIf ? ["--import", new URL("./support/whatif.ts", import.meta.url).href] : []),
        fileURLToPath(new URL("../main/embedded.ts", import.meta.url)),
      ],
      {
        NODE_ENV: "test",
        PORT: String(port),
        PUBLIC_URL: base,
        DATABASE_URL: db.url,
        AMQP_URL,
        KWS_DEAD_LETTER_QUEUE: deadLetterQueue,
        KWS_ADMINS: adminEmail,
        KWS_DATA_DIR: join(dir, "control-plane"),
        // The agents' enrollments say where they come from (X-Forwarded-For), see bench/support/agents.ts.
        TRUST_PROXY: "true",
        LOG_LEVEL: "warn",
        // Only the bench's agents: npm start's own agent for this machine would be a 51st host.
        KWS_LOCAL_AGENT: "off",
        REDIS_URL: "",
        UPSTASH_REDIS_REST_URL: "",
        UPSTASH_REDIS_REST_TOKEN: "",
        SMTP_URL: "",
      },
      Boolean(process.env.KWS_BENCH_LOG),
    );
    cleanup("control plane", () => controlPlane.stop("SIGTERM"));
    const http = new HttpClient(base, inflight + 16);
    cleanup("http agent", async () => http.close());
    await until(async () => (await http.request("GET", "/readyz")).status === 200, 30_000, "control plane ready", controlPlane);
    progress(`control plane + gateway at ${base} (pid ${controlPlane.pid})`);

    // ------------------------------------------------------------ an admin API token
    const username = `admin_${run}`;
    const reg = await http.request("POST", "/api/v1/auth/register", { email: adminEmail, username, password: PASSWORD, firstName: "Bench", lastName: "Admin" });
    if (reg.status !== 201) throw new Error(`register: ${reg.status} ${reg.text}`);
    // The verification mail is only logged at info level (the control plane runs at warn): verify in the database.
    await sql`update users set verified_at = now() where email = ${adminEmail}`;
    const login = await http.request("POST", "/api/v1/auth/login", { username, password: PASSWORD });
    const cookie = String(login.headers["set-cookie"] ?? "").split(";")[0];
    if (login.status !== 200 || !cookie) throw new Error(`login: ${login.status} ${login.text}`);
    const tokenRes = await http.request("POST", "/api/v1/tokens", { name: "bench dispatch" }, { cookie });
    if (tokenRes.status !== 201) throw new Error(`token: ${tokenRes.status} ${tokenRes.text}`);
    const token = (JSON.parse(tokenRes.text) as Json).secret as string;
    const auth = { authorization: `Bearer ${token}` };
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await http.request(method, `/api/v1${path}`, body, auth);
      return { status: res.status, body: (res.text ? JSON.parse(res.text) : {}) as Json };
    };

    // ------------------------------------------------------------ 50 hosts, 50 agents
    const enrollmentTokens: string[] = [];
    let hostsDeleted = false;
    const deleteHosts = async () => {
      if (hostsDeleted) return;
      hostsDeleted = true;
      for (const id of hostIds) {
        const res = await api("DELETE", `/hosts/${id}`).catch(() => undefined);
        if (res && res.status !== 204 && res.status !== 404) progress(`delete host ${id}: ${res.status}`);
      }
    };
    cleanup("hosts (API)", deleteHosts);
    for (let i = 0; i < AGENTS; i++) {
      const created = await api("POST", "/hosts", { name: `bench-${run}-${i}` });
      if (created.status !== 201) throw new Error(`create host: ${created.status} ${JSON.stringify(created.body)}`);
      hostIds.push(created.body.host.id as string);
      enrollmentTokens.push(created.body.enrollmentToken as string);
    }
    progress(`${AGENTS} hosts created`);

    const agents = new Child(
      "agents",
      process.execPath,
      ["--import", "tsx", fileURLToPath(new URL("./support/agents.ts", import.meta.url))],
      { BENCH_AGENTS: JSON.stringify({ gatewayUrl: base, stateRoot: join(dir, "agents"), tokens: enrollmentTokens }) },
      Boolean(process.env.KWS_BENCH_LOG),
    );
    cleanup("agents", () => agents.stop("SIGTERM"));
    await agents.waitFor((l) => l.msg === "agents started", 60_000);
    await until(
      async () => {
        const [row] = await sql`select count(*)::int as n from hosts where connection_id is not null`;
        return row!.n === AGENTS;
      },
      30_000,
      `${AGENTS} hosts online`,
      agents,
    );
    const [degraded] = await sql`select count(*)::int as n, min(degraded_reason) as reason from hosts where degraded_reason is not null`;
    progress(`${AGENTS} agents enrolled and connected (degraded: ${degraded!.n}, "${degraded!.reason}")`);

    /** Committed transactions of the bench database (PostgreSQL reports them about once a second). */
    const transactions = async () => {
      const [row] = await sql<{ n: string }[]>`select xact_commit::text as n from pg_stat_database where datname = current_database()`;
      return Number(row!.n);
    };

    // ------------------------------------------------------------ the load machinery
    // Jobs in flight → a callback when their row is final; one indexed query for all of them.
    const outstanding = new Map<string, (status: string) => void>();
    let polls = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        if (outstanding.size > 0) {
          const ids = `{${[...outstanding.keys()].join(",")}}`;
          try {
            const rows = await sql<{ id: string; status: string }[]>`
              select id::text as id, status from jobs where id = any(${ids}::uuid[]) and status in ('succeeded', 'failed')`;
            polls++;
            for (const r of rows) {
              const done = outstanding.get(r.id);
              outstanding.delete(r.id);
              done?.(r.status);
            }
          } catch (err) {
            // Jobs still waiting time out on their own; a failing poll must not take the bench (and its cleanup) down.
            progress(`completion poll failed: ${err instanceof Error ? err.message : String(err)}`);
            await sleep(100);
          }
        }
        await sleep(pollMs);
      }
    })();
    cleanup("poller", async () => {
      polling = false;
      await poller;
    });

    let rr = 0;
    const submitOne = async (): Promise<Submitted & { status: string }> => {
      const hostId = hostIds[rr++ % hostIds.length]!;
      const startUs = wallUs();
      const t0 = performance.now();
      const res = await http.request("POST", `/api/v1/hosts/${hostId}/jobs`, { kind: "noop", payload: {} }, auth);
      const httpMs = performance.now() - t0;
      if (res.status !== 202) throw new Error(`submit: ${res.status} ${res.text}`);
      const id = (JSON.parse(res.text) as Json).job.id as string;
      const status = await new Promise<string>((resolve) => {
        outstanding.set(id, resolve);
        setTimeout(() => {
          if (outstanding.delete(id)) resolve("timeout");
        }, 60_000).unref();
      });
      return { id, startUs, httpMs, status };
    };

    const load = async (concurrency: number, limitJobs: number, limitSeconds: number) => {
      const done: (Submitted & { status: string })[] = [];
      let issued = 0;
      const started = performance.now();
      const deadline = started + limitSeconds * 1000;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (issued < limitJobs && performance.now() < deadline) {
            issued++;
            done.push(await submitOne());
          }
        }),
      );
      return { done, elapsedS: (performance.now() - started) / 1000 };
    };

    const timesOf = async (ids: string[]): Promise<Map<string, JobTimes>> => {
      const out = new Map<string, JobTimes>();
      for (let i = 0; i < ids.length; i += 5000) {
        const chunk = `{${ids.slice(i, i + 5000).join(",")}}`;
        const rows = await sql<{ id: string; status: string; c: string; s: string | null; f: string | null }[]>`
          select id::text as id, status,
                 (extract(epoch from created_at) * 1000000)::bigint::text as c,
                 (extract(epoch from started_at) * 1000000)::bigint::text as s,
                 (extract(epoch from finished_at) * 1000000)::bigint::text as f
          from jobs where id = any(${chunk}::uuid[])`;
        for (const r of rows) {
          out.set(r.id, {
            id: r.id,
            status: r.status,
            createdUs: Number(r.c),
            startedUs: r.s === null ? null : Number(r.s),
            finishedUs: r.f === null ? null : Number(r.f),
          });
        }
      }
      return out;
    };

    /** Latencies and their breakdown, in ms, from the submitted jobs and their rows. */
    const analyse = async (done: (Submitted & { status: string })[]) => {
      const rows = await timesOf(done.map((d) => d.id));
      const roundTrip: number[] = [];
      const pipeline: number[] = [];
      const toInsert: number[] = [];
      const insertToRunning: number[] = [];
      const runningToFinished: number[] = [];
      const http: number[] = [];
      let succeeded = 0;
      let failed = 0;
      let other = 0;
      for (const d of done) {
        const r = rows.get(d.id);
        if (!r || r.status !== "succeeded" || r.finishedUs === null || r.startedUs === null) {
          if (r?.status === "failed") failed++;
          else other++;
          continue;
        }
        succeeded++;
        roundTrip.push((r.finishedUs - d.startUs) / 1000);
        pipeline.push((r.finishedUs - r.createdUs) / 1000);
        toInsert.push((r.createdUs - d.startUs) / 1000);
        insertToRunning.push((r.startedUs - r.createdUs) / 1000);
        runningToFinished.push((r.finishedUs - r.startedUs) / 1000);
        http.push(d.httpMs);
      }
      return { roundTrip, pipeline, toInsert, insertToRunning, runningToFinished, http, succeeded, failed, other };
    };

    // ------------------------------------------------------------ clock check (bench vs PostgreSQL)
    const offsets: number[] = [];
    for (let i = 0; i < 20; i++) {
      const a = wallUs();
      const [row] = await sql`select (extract(epoch from clock_timestamp()) * 1000000)::bigint::text as t`;
      const b = wallUs();
      offsets.push((Number(row!.t) - (a + b) / 2) / 1000);
    }
    const clockOffsetMs = p50(offsets);

    // ------------------------------------------------------------ warm-up
    progress(`warm-up: ${warmupJobs} jobs`);
    const warm = await load(inflight, warmupJobs, 30);
    const warmBad = warm.done.filter((d) => d.status !== "succeeded");
    if (warmBad.length > 0) throw new Error(`warm-up: ${warmBad.length} jobs did not succeed (e.g. ${warmBad[0]!.status})`);

    // ------------------------------------------------------------ raw AMQP baseline
    const setup = await amqp.createChannel();
    await setup.assertQueue(rawQueue, { durable: true, arguments: { "x-queue-type": "quorum" } });
    await rawRoundTrip(amqp, rawQueue, inflight, 2, 2000); // warm-up
    progress(`raw amqp: ${inflight} in flight, 8 s`);
    const rawCpu0 = { machine: machineCpu(), broker: sumCpuSeconds(pidsNamed("beam.smp")), bench: process.cpuUsage() };
    const raw = await rawRoundTrip(amqp, rawQueue, inflight, 8, 200_000);
    const rawCpu1 = { machine: machineCpu(), broker: sumCpuSeconds(pidsNamed("beam.smp")), bench: process.cpuUsage(rawCpu0.bench) };
    const rawMessages = raw.messages;
    // CPU per raw round trip (broker + this client), the floor any job pays for its message.
    const rawCpuMsPerMessage = {
      machine: round(((rawCpu1.machine.busy - rawCpu0.machine.busy) * 1000) / rawMessages, 3),
      broker: round(((rawCpu1.broker - rawCpu0.broker) * 1000) / rawMessages, 3),
      client: round((rawCpu1.bench.user + rawCpu1.bench.system) / 1000 / rawMessages, 3),
    };
    const rawSequential = await rawRoundTrip(amqp, rawQueue, 1, 3, 3000);
    // The same with amqplib's socket defaults (what shared/queue/amqp.ts connects with).
    const rawNagle = await rawRoundTrip(amqpDefault, rawQueue, inflight, 3, 200_000);
    const rawNagleSequential = await rawRoundTrip(amqpDefault, rawQueue, 1, 3, 60);
    progress(`raw amqp: p50 ${raw.p50Ms} ms, p99 ${raw.p99Ms} ms, ${raw.msgsPerSec} msg/s; one in flight p50 ${rawSequential.p50Ms} ms`);

    // ------------------------------------------------------------ the measured run
    progress(`dispatch: ${inflight} in flight over ${AGENTS} hosts, ${seconds} s or ${maxJobs} jobs`);
    const beamPids = pidsNamed("beam.smp");
    const postgresPids = pidsNamed("postgres");
    const cpu0 = {
      machine: machineCpu(),
      controlPlane: processCpuSeconds(controlPlane.pid) ?? 0,
      agents: processCpuSeconds(agents.pid) ?? 0,
      bench: process.cpuUsage(),
      broker: sumCpuSeconds(beamPids),
      postgres: sumCpuSeconds(postgresPids),
    };
    const polls0 = polls;
    const xacts0 = await transactions();
    const measured = await load(inflight, maxJobs, seconds);
    const xacts1 = await transactions();
    const cpu1 = {
      machine: machineCpu(),
      controlPlane: processCpuSeconds(controlPlane.pid) ?? 0,
      agents: processCpuSeconds(agents.pid) ?? 0,
      bench: process.cpuUsage(cpu0.bench),
      broker: sumCpuSeconds(beamPids),
      // Backends that exited during the run are not counted; the pool keeps its connections.
      postgres: sumCpuSeconds(pidsNamed("postgres")),
    };
    const wall = measured.elapsedS;
    const share = (s: number) => round(s / wall, 2);
    const cpu = {
      machineBusyCores: share(cpu1.machine.busy - cpu0.machine.busy),
      cores: round((cpu1.machine.total - cpu0.machine.total) / wall, 1),
      controlPlaneCores: share(cpu1.controlPlane - cpu0.controlPlane),
      agentsCores: share(cpu1.agents - cpu0.agents),
      benchCores: share((cpu1.bench.user + cpu1.bench.system) / 1e6),
      brokerCores: share(cpu1.broker - cpu0.broker),
      postgresCores: share(cpu1.postgres - cpu0.postgres),
    };
    const pollsPerSec = round((polls - polls0) / wall, 0);
    // A statement outside a transaction block is a transaction; the bench's own polls are among them.
    const m = await analyse(measured.done);
    progress(`dispatch: ${m.succeeded} succeeded in ${wall.toFixed(1)} s, p50 ${p50(m.roundTrip)} ms, p99 ${p99(m.roundTrip)} ms`);

    // ------------------------------------------------------------ profile: one job at a time, and the parts alone
    progress("profile: sequential jobs and single operations");
    const seq = await load(1, 150, 20);
    const s = await analyse(seq.done);

    const someJob = measured.done[0]!.id;
    const httpHealth = await sample(200, () => http.request("GET", "/healthz"));
    const httpGetJob = await sample(200, async () => {
      const r = await http.request("GET", `/api/v1/jobs/${someJob}`, undefined, auth);
      if (r.status !== 200) throw new Error(`get job: ${r.status}`);
    });
    const dbSelect = await sample(200, () => sql`select 1`);
    const dbUpdate = await sample(200, () => sql`update jobs set updated_at = now() where id = ${someJob}`);
    const dbInsert = await sample(100, () =>
      sql`insert into jobs (host_id, kind, payload, deadline) values (${hostIds[0]!}, 'noop', '{}'::jsonb, now() + interval '1 minute') returning *`,
    );
    // What submitJob's queue.declare costs on every submit: a fresh channel, assertQueue, close.
    const declareArgs = {
      durable: true,
      arguments: {
        "x-queue-type": "quorum",
        "x-single-active-consumer": true,
        "x-delivery-limit": 2,
        "x-dead-letter-exchange": `${deadLetterQueue}.dlx`,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
      },
    };
    const amqpDeclare = await sample(200, async () => {
      const ch: Channel = await amqp.createChannel();
      await ch.assertQueue(hostQueue(hostIds[0]!), declareArgs);
      await ch.close();
    });
    const confirmCh = await amqp.createConfirmChannel();
    const amqpPublishConfirm = await sample(200, async () => {
      await new Promise<void>((resolve, reject) =>
        confirmCh.sendToQueue(rawQueue, Buffer.from("{}"), { persistent: true }, (err: unknown) => (err ? reject(err) : resolve())),
      );
    });
    await confirmCh.close();
    await setup.purgeQueue(rawQueue);
    await setup.close();
    // The agent journals every result with an fsync (fdatasync) before sending it.
    const journal = await open(join(dir, "fsync-probe.jsonl"), "a");
    const line = `${JSON.stringify({ t: "result", at: new Date().toISOString(), result: { type: "result", jobId: someJob, ok: true, data: {} } })}\n`;
    const fsyncTimes = await sample(200, async () => {
      await journal.write(line);
      await journal.datasync();
    });
    await journal.close();

    // With a CPU profile: stop everything now (agents, hosts through the API, the control plane,
    // which writes its profile as it exits) and summarise it; the cleanups then find nothing to do.
    let cpuProfile: Record<string, unknown> | undefined;
    if (cpuProfDir) {
      await agents.stop("SIGTERM");
      await deleteHosts();
      await controlPlane.stop("SIGTERM");
      cpuProfile = summariseCpuProfile(cpuProfDir, m.succeeded + s.succeeded + warm.done.length);
    }

    const rawP50 = raw.p50Ms;
    const p50Ms = p50(m.roundTrip);
    const jobsPerSec = round(m.succeeded / wall, 1);
    const p50TargetMs = round(2 * rawP50 + 1);
    return {
      p50Ms,
      p99Ms: p99(m.roundTrip),
      jobsPerSec,
      jobs: m.succeeded,
      failedJobs: m.failed,
      unfinishedJobs: m.other,
      agents: AGENTS,
      inflight,
      seconds: round(wall, 1),
      rawAmqpP50Ms: rawP50,
      rawAmqpP99Ms: raw.p99Ms,
      rawAmqpMsgsPerSec: raw.msgsPerSec,
      rawAmqpCpuMsPerMessage: rawCpuMsPerMessage,
      rawAmqpInflight: inflight,
      ratioP50: round(p50Ms / rawP50),
      targets: "p50 <= 2*raw + 1 ms, >= 1000 jobs/s",
      p50TargetMs,
      metP50: p50Ms <= p50TargetMs,
      metThroughput: jobsPerSec >= 1000,
      profile: {
        note:
          "loaded = the measured run; sequential = one job in flight. Breakdown from the job row's DB timestamps: " +
          "submitToInsert = request start → created_at (HTTP, auth, host lookup, insert); insertToRunning = created_at → started_at " +
          "(insert commit, declare, publish + confirm, delivery, markRunning); runningToStored = started_at → finished_at " +
          "(markRunning commit, ws to the agent, agent incl. journal fsync, ws back, finishJob).",
        clockOffsetMs,
        degradedAgents: degraded!.n,
        loaded: {
          roundTripP50Ms: p50Ms,
          pipelineP50Ms: p50(m.pipeline),
          pipelineP99Ms: p99(m.pipeline),
          submitHttpP50Ms: p50(m.http),
          submitHttpP99Ms: p99(m.http),
          submitToInsertP50Ms: p50(m.toInsert),
          insertToRunningP50Ms: p50(m.insertToRunning),
          runningToStoredP50Ms: p50(m.runningToFinished),
          runningToStoredP99Ms: p99(m.runningToFinished),
          cpu,
          completionPollsPerSec: pollsPerSec,
          dbTransactionsPerJob: round((xacts1 - xacts0) / m.succeeded, 2),
          benchPollsPerJob: round((polls - polls0) / m.succeeded, 2),
        },
        sequential: {
          jobs: s.succeeded,
          roundTripP50Ms: p50(s.roundTrip),
          roundTripP99Ms: p99(s.roundTrip),
          pipelineP50Ms: p50(s.pipeline),
          submitHttpP50Ms: p50(s.http),
          submitToInsertP50Ms: p50(s.toInsert),
          insertToRunningP50Ms: p50(s.insertToRunning),
          runningToStoredP50Ms: p50(s.runningToFinished),
          jobsPerSec: round(s.succeeded / seq.elapsedS, 1),
        },
        rawAmqp: {
          note: "noDelay = TCP_NODELAY on (the baseline above); amqplibDefaults = noDelay off, as shared/queue/amqp.ts connects",
          noDelay: { inflight: raw, sequential: rawSequential },
          amqplibDefaults: { inflight: rawNagle, sequential: rawNagleSequential },
        },
        single: {
          httpHealthzP50Ms: p50(httpHealth),
          httpGetJobWithTokenP50Ms: p50(httpGetJob),
          dbSelect1P50Ms: p50(dbSelect),
          dbUpdateCommitP50Ms: p50(dbUpdate),
          dbInsertReturningP50Ms: p50(dbInsert),
          amqpDeclareFreshChannelP50Ms: p50(amqpDeclare),
          amqpPublishConfirmP50Ms: p50(amqpPublishConfirm),
          fdatasyncP50Ms: p50(fsyncTimes),
        },
        perJob: {
          dbStatements:
            "alone 4: api token + user SELECT (auth), jobs INSERT, markRunning UPDATE, finishJob UPDATE; under load the " +
            "concurrent ones share a statement (see loaded.dbTransactionsPerJob)",
          dbWriteCommits: "alone 3, shared under load",
          amqpRoundTripsOnSubmit: "1: publish → confirm (the queue is declared once per process)",
          agentFsyncs: 1,
        },
        ...(whatIf ? { whatIf } : {}),
        ...(cpuProfile ? { controlPlaneCpuProfile: cpuProfile } : {}),
      },
    };
  } finally {
    await cleanups.run();
  }
}

/**
 * Self time of the control plane's CPU profile (its whole life: start-up, warm-up, the runs),
 * grouped by package or source directory.
 */
function summariseCpuProfile(dir: string, jobs: number): Record<string, unknown> {
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) return { error: `no .cpuprofile in ${dir}` };
  const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as {
    nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const owner = (url: string): string | undefined => {
    const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1];
    if (pkg) return pkg;
    const app = url.match(/\/(functions|shared|agent|bench)\//)?.[1];
    return app ? `kws ${app}/` : undefined;
  };
  // Self time by the frame's own package, and by the nearest caller that is a package or KWS
  // source (so a socket write made by postgres counts for postgres).
  const self = new Map<string, number>();
  const owned = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, us: number) => m.set(k, (m.get(k) ?? 0) + us);
  let idle = 0;
  let total = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    total += us;
    const { url, functionName } = node.callFrame;
    if (functionName === "(idle)") {
      idle += us;
      return;
    }
    add(self, owner(url) ?? (url.startsWith("node:") ? "node internals" : `${functionName || "(anonymous)"} (native)`), us);
    let at: number | undefined = id;
    let who: string | undefined;
    while (at !== undefined && !who) {
      who = owner(byId.get(at)?.callFrame.url ?? "");
      at = parent.get(at);
    }
    add(owned, who ?? (functionName.startsWith("(") ? functionName : "node internals"), us);
  });
  const busyUs = total - idle;
  const top = (m: Map<string, number>, n: number) =>
    Object.fromEntries(
      [...m.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, n)
        .map(([k, us]) => [k, `${round(us / 1000, 0)} ms (${round((100 * us) / busyUs, 1)}%)`]),
    );
  return {
    note: "whole life of the control plane (start-up, warm-up, all runs); busyMsPerJob divides by every job it ran",
    busyMs: round(busyUs / 1000, 0),
    jobs,
    busyMsPerJob: round(busyUs / 1000 / jobs, 2),
    selfByGroup: top(self, 12),
    byCallingPackage: top(owned, 12),
  };
}


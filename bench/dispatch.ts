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
 * Latency of a job = from the wall-clock time its submit request started to the start of the first
 * completion poll that sees its result committed: the poll's snapshot is taken as it starts, so the
 * commit came before it, and after the previous poll's start. The jobs still in flight are polled in
 * one indexed query every BENCH_DISPATCH_POLL_MS (default 10), so a latency runs up to one poll
 * period (pollPeriodMs) past the commit. Polling every 2 ms took a fifth of a core of PostgreSQL under
 * load, more than the pipeline's own statements. (The row's `finished_at` is `now()`, the start of
 * the finishing transaction, before its effects and its commit: it only splits the profile.)
 *
 * Load: BENCH_DISPATCH_INFLIGHT jobs in flight (submitted, not yet stored; default 48), spread
 * round-robin over the 50 hosts, for BENCH_DISPATCH_SECONDS (default 20) or BENCH_DISPATCH_JOBS
 * (default 20000) jobs. The raw baseline (a durable quorum queue, publisher confirms, consumer
 * acks) runs with the same number in flight, and once with one in flight.
 *
 * `profile` explains the time: the DB-timestamp breakdown of each job (loaded and one at a time),
 * CPU per process during the run, and single operations timed alone (DB statements, a publish
 * confirm, an fdatasync like the agent journal's). BENCH_DISPATCH_CPU_PROF=1 (or =/dir to keep the
 * file) profiles the control plane and summarises where its CPU went.
 *
 * DATABASE_URL (default postgres://root@127.0.0.1:5432/postgres): where the kws_test_* database
 * is created and dropped. AMQP_URL (default amqp://guest:guest@127.0.0.1:5672).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type ChannelModel } from "amqplib";
import postgres from "postgres";
import type { ApiMethod, BodyOf, Reply } from "../test/support/api";
import { freshPostgresDatabase } from "../test/support/database";
import { freePort } from "../test/support/processes";
import {
  brokerFileHandles,
  Child,
  closedLoop,
  envInt,
  HttpClient,
  machineCpu,
  p50,
  p99,
  pidsNamed,
  processCpuSeconds,
  progress as progressFor,
  round,
  runBench,
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

interface Submitted {
  id: string;
  /** Wall clock (µs) when the submit request started. */
  startUs: number;
  /** Client-side duration of the submit request (HTTP 202 received). */
  httpMs: number;
  status: string;
  /** Wall clock (µs) when the completion poll that first saw the job final started (after its commit). */
  seenUs: number;
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

export function run(): Promise<Record<string, unknown>> {
  const inflight = envInt("BENCH_DISPATCH_INFLIGHT", 48);
  const seconds = envInt("BENCH_DISPATCH_SECONDS", 20);
  const maxJobs = envInt("BENCH_DISPATCH_JOBS", 20_000);
  const pollMs = envInt("BENCH_DISPATCH_POLL_MS", 10);
  const warmupJobs = envInt("BENCH_DISPATCH_WARMUP", 400);
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const deadLetterQueue = `kws.bench.dead.${run}`;
  const rawQueue = `kws.bench.raw.${run}`;
  // BENCH_DISPATCH_CPU_PROF=1: profile in the temp dir (removed); =/some/dir: kept there.
  const cpuProfEnv = process.env.BENCH_DISPATCH_CPU_PROF;

  return runBench(progress, {
    async setup(cleanups) {
      const cleanup = (what: string, f: () => Promise<unknown>) => cleanups.add(what, f);
      const dir = mkdtempSync(join(tmpdir(), "kws-bench-dispatch-"));
      cleanup("temp dir", async () => rmSync(dir, { recursive: true, force: true }));

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
      // TCP_NODELAY on, as shared/queue/amqp.ts connects: the baseline is the broker's own cost.
      const amqp = await connect(AMQP_URL, { noDelay: true });
      cleanup("amqp connection", () => amqp.close());
      const hostIds: string[] = [];
      cleanup("leftover queues", async () => {
        const ch = await amqp.createChannel();
        ch.on("error", () => {});
        await ch.deleteQueue(rawQueue).catch(() => {});
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
      const cpuProfDir = cpuProfEnv ? (cpuProfEnv.startsWith("/") ? cpuProfEnv : join(dir, "cpu-profile")) : undefined;
      const controlPlane = new Child(
        "control-plane",
        process.execPath,
        [...(cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`] : []), "--import", "tsx", fileURLToPath(new URL("../main/embedded.ts", import.meta.url))],
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
      const auth = { authorization: `Bearer ${(JSON.parse(tokenRes.text) as BodyOf<"POST", "/api/v1/tokens", 201>).secret}` };
      const api = async <M extends ApiMethod, P extends string>(method: M, path: P, body?: unknown) => {
        const res = await http.request(method, `/api/v1${path}`, body, auth);
        return { status: res.status, body: res.text ? JSON.parse(res.text) : {} } as Reply<M, `/api/v1${P}`>;
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
        hostIds.push(created.body.host.id);
        enrollmentTokens.push(created.body.enrollmentToken);
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

      // ------------------------------------------------------------ the load machinery
      // Jobs in flight → a callback when a poll first sees their row final; one indexed query for all of them.
      const outstanding = new Map<string, (status: string, seenUs: number) => void>();
      const polling = { running: true, polls: 0, busyUs: 0 };
      const poller = (async () => {
        while (polling.running) {
          if (outstanding.size > 0) {
            const ids = `{${[...outstanding.keys()].join(",")}}`;
            // The query's snapshot is taken as it starts: whatever it sees final was committed before this.
            const startedUs = wallUs();
            try {
              const rows = await sql<{ id: string; status: string }[]>`
                select id::text as id, status from jobs where id = any(${ids}::uuid[]) and status in ('succeeded', 'failed')`;
              polling.polls++;
              polling.busyUs += wallUs() - startedUs;
              for (const r of rows) {
                const done = outstanding.get(r.id);
                outstanding.delete(r.id);
                done?.(r.status, startedUs);
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
        polling.running = false;
        await poller;
      });

      let rr = 0;
      const submitOne = async (): Promise<Submitted> => {
        const hostId = hostIds[rr++ % hostIds.length]!;
        const startUs = wallUs();
        const t0 = performance.now();
        const res = await http.request("POST", `/api/v1/hosts/${hostId}/jobs`, { kind: "noop", payload: {} }, auth);
        const httpMs = performance.now() - t0;
        if (res.status !== 202) throw new Error(`submit: ${res.status} ${res.text}`);
        const id = (JSON.parse(res.text) as BodyOf<"POST", "/api/v1/hosts/:id/jobs", 202>).job.id;
        const [status, seenUs] = await new Promise<[string, number]>((resolve) => {
          outstanding.set(id, (status, seenUs) => resolve([status, seenUs]));
          setTimeout(() => {
            if (outstanding.delete(id)) resolve(["timeout", Number.NaN]);
          }, 60_000).unref();
        });
        return { id, startUs, httpMs, status, seenUs };
      };

      /** `concurrency` submitters, each submitting its next job when its last one is seen final. */
      const load = async (concurrency: number, limitJobs: number, limitSeconds: number) => {
        const { results, elapsedS } = await closedLoop(concurrency, limitJobs, limitSeconds, submitOne);
        return { done: results, elapsedS };
      };

      /** Committed transactions of the bench database (PostgreSQL reports them about once a second). */
      const transactions = async () => {
        const [row] = await sql<{ n: string }[]>`select xact_commit::text as n from pg_stat_database where datname = current_database()`;
        return Number(row!.n);
      };

      return { dir, sql, amqp, http, auth, hostIds, controlPlane, agents, deleteHosts, cpuProfDir, degradedAgents: degraded!.n as number, polling, load, transactions };
    },

    async measure({ dir, sql, amqp, http, auth, hostIds, controlPlane, agents, deleteHosts, cpuProfDir, polling, load, transactions }) {
      // ------------------------------------------------------------ clock check (bench vs PostgreSQL)
      const offsets: number[] = [];
      for (let i = 0; i < 20; i++) {
        const a = wallUs();
        const [row] = await sql`select (extract(epoch from clock_timestamp()) * 1000000)::bigint::text as t`;
        const b = wallUs();
        offsets.push((Number(row!.t) - (a + b) / 2) / 1000);
      }

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
      const rawSequential = await rawRoundTrip(amqp, rawQueue, 1, 3, 3000);
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
      const polls0 = { polls: polling.polls, busyUs: polling.busyUs };
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
      const polls = { polls: polling.polls - polls0.polls, busyUs: polling.busyUs - polls0.busyUs };
      const loaded = await jobTimes(sql, measured.done);
      progress(`dispatch: ${loaded.succeeded} succeeded in ${measured.elapsedS.toFixed(1)} s, p50 ${p50(loaded.roundTrip)} ms, p99 ${p99(loaded.roundTrip)} ms`);

      // ------------------------------------------------------------ profile: one job at a time, and the parts alone
      progress("profile: sequential jobs and single operations");
      const seq = await load(1, 150, 20);
      const sequential = await jobTimes(sql, seq.done);

      const someJob = measured.done[0]!.id;
      const single = {
        httpHealth: await sample(200, () => http.request("GET", "/healthz")),
        httpGetJob: await sample(200, async () => {
          const r = await http.request("GET", `/api/v1/jobs/${someJob}`, undefined, auth);
          if (r.status !== 200) throw new Error(`get job: ${r.status}`);
        }),
        dbSelect: await sample(200, () => sql`select 1`),
        dbUpdate: await sample(200, () => sql`update jobs set updated_at = now() where id = ${someJob}`),
        dbInsert: await sample(100, () =>
          sql`insert into jobs (host_id, kind, payload, deadline) values (${hostIds[0]!}, 'noop', '{}'::jsonb, now() + interval '1 minute') returning *`,
        ),
        amqpPublishConfirm: await (async () => {
          const confirmCh = await amqp.createConfirmChannel();
          const times = await sample(200, async () => {
            await new Promise<void>((resolve, reject) =>
              confirmCh.sendToQueue(rawQueue, Buffer.from("{}"), { persistent: true }, (err: unknown) => (err ? reject(err) : resolve())),
            );
          });
          await confirmCh.close();
          return times;
        })(),
        // The agent journals every result with an fsync (fdatasync) before sending it.
        fsync: await (async () => {
          const journal = await open(join(dir, "fsync-probe.jsonl"), "a");
          const line = `${JSON.stringify({ t: "result", at: new Date().toISOString(), result: { type: "result", jobId: someJob, ok: true, data: {} } })}\n`;
          const times = await sample(200, async () => {
            await journal.write(line);
            await journal.datasync();
          });
          await journal.close();
          return times;
        })(),
      };
      await setup.purgeQueue(rawQueue);
      await setup.close();

      // With a CPU profile: stop everything now (agents, hosts through the API, the control plane,
      // which writes its profile as it exits) and summarise it; the cleanups then find nothing to do.
      let cpuProfile: Record<string, unknown> | undefined;
      if (cpuProfDir) {
        await agents.stop("SIGTERM");
        await deleteHosts();
        await controlPlane.stop("SIGTERM");
        cpuProfile = summariseCpuProfile(cpuProfDir, loaded.succeeded + sequential.succeeded + warm.done.length);
      }
      return {
        clockOffsetMs: p50(offsets),
        raw,
        rawSequential,
        rawCpuMs: { machine: (rawCpu1.machine.busy - rawCpu0.machine.busy) * 1000, broker: (rawCpu1.broker - rawCpu0.broker) * 1000, client: (rawCpu1.bench.user + rawCpu1.bench.system) / 1000 },
        wall: measured.elapsedS,
        cpu0,
        cpu1,
        polls,
        transactions: xacts1 - xacts0,
        loaded,
        sequential,
        sequentialElapsedS: seq.elapsedS,
        single,
        cpuProfile,
      };
    },

    report(f, { degradedAgents }) {
      const share = (s: number) => round(s / f.wall, 2);
      const m = f.loaded;
      const s = f.sequential;
      const rawP50 = f.raw.p50Ms;
      const p50Ms = p50(m.roundTrip);
      const jobsPerSec = round(m.succeeded / f.wall, 1);
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
        seconds: round(f.wall, 1),
        // How far past its commit a job's latency can end: the time from one completion poll's start to the next's.
        pollPeriodMs: round((f.wall * 1000) / Math.max(1, f.polls.polls), 1),
        rawAmqpP50Ms: rawP50,
        rawAmqpP99Ms: f.raw.p99Ms,
        rawAmqpMsgsPerSec: f.raw.msgsPerSec,
        // CPU per raw round trip (broker + this client), the floor any job pays for its message.
        rawAmqpCpuMsPerMessage: {
          machine: round(f.rawCpuMs.machine / f.raw.messages, 3),
          broker: round(f.rawCpuMs.broker / f.raw.messages, 3),
          client: round(f.rawCpuMs.client / f.raw.messages, 3),
        },
        rawAmqpInflight: inflight,
        ratioP50: round(p50Ms / rawP50),
        targets: "p50 <= 2*raw + 1 ms, >= 1000 jobs/s",
        p50TargetMs,
        metP50: p50Ms <= p50TargetMs,
        metThroughput: jobsPerSec >= 1000,
        profile: {
          note:
            "loaded = the measured run; sequential = one job in flight. Breakdown from the job row's DB timestamps (each the start " +
            "of the transaction that wrote it): submitToInsert = request start → created_at (HTTP, auth, host lookup, insert); " +
            "insertToRunning = created_at → started_at (insert commit, publish + confirm, delivery, markRunning); " +
            "runningToFinishing = started_at → finished_at (markRunning commit, ws to the agent, agent incl. journal fsync, ws back, " +
            "finishJob's start); finishingToSeen = finished_at → the poll that saw it committed (finishJob's statement and commit, up to a poll period).",
          clockOffsetMs: f.clockOffsetMs,
          degradedAgents,
          loaded: {
            roundTripP50Ms: p50Ms,
            pipelineP50Ms: p50(m.pipeline),
            pipelineP99Ms: p99(m.pipeline),
            submitHttpP50Ms: p50(m.http),
            submitHttpP99Ms: p99(m.http),
            submitToInsertP50Ms: p50(m.toInsert),
            insertToRunningP50Ms: p50(m.insertToRunning),
            runningToFinishingP50Ms: p50(m.runningToFinishing),
            runningToFinishingP99Ms: p99(m.runningToFinishing),
            finishingToSeenP50Ms: p50(m.finishingToSeen),
            cpu: {
              machineBusyCores: share(f.cpu1.machine.busy - f.cpu0.machine.busy),
              cores: round((f.cpu1.machine.total - f.cpu0.machine.total) / f.wall, 1),
              controlPlaneCores: share(f.cpu1.controlPlane - f.cpu0.controlPlane),
              agentsCores: share(f.cpu1.agents - f.cpu0.agents),
              benchCores: share((f.cpu1.bench.user + f.cpu1.bench.system) / 1e6),
              brokerCores: share(f.cpu1.broker - f.cpu0.broker),
              postgresCores: share(f.cpu1.postgres - f.cpu0.postgres),
            },
            completionPollsPerSec: round(f.polls.polls / f.wall, 0),
            completionPollP50Ms: round(f.polls.busyUs / 1000 / Math.max(1, f.polls.polls), 2),
            // A statement outside a transaction block is a transaction; the bench's own polls are among them.
            dbTransactionsPerJob: round(f.transactions / m.succeeded, 2),
            benchPollsPerJob: round(f.polls.polls / m.succeeded, 2),
          },
          sequential: {
            jobs: s.succeeded,
            roundTripP50Ms: p50(s.roundTrip),
            roundTripP99Ms: p99(s.roundTrip),
            pipelineP50Ms: p50(s.pipeline),
            submitHttpP50Ms: p50(s.http),
            submitToInsertP50Ms: p50(s.toInsert),
            insertToRunningP50Ms: p50(s.insertToRunning),
            runningToFinishingP50Ms: p50(s.runningToFinishing),
            finishingToSeenP50Ms: p50(s.finishingToSeen),
            jobsPerSec: round(s.succeeded / f.sequentialElapsedS, 1),
          },
          rawAmqp: { inflight: f.raw, sequential: f.rawSequential },
          single: {
            httpHealthzP50Ms: p50(f.single.httpHealth),
            httpGetJobWithTokenP50Ms: p50(f.single.httpGetJob),
            dbSelect1P50Ms: p50(f.single.dbSelect),
            dbUpdateCommitP50Ms: p50(f.single.dbUpdate),
            dbInsertReturningP50Ms: p50(f.single.dbInsert),
            amqpPublishConfirmP50Ms: p50(f.single.amqpPublishConfirm),
            fdatasyncP50Ms: p50(f.single.fsync),
          },
          perJob: {
            dbStatements:
              "alone 4: api token + user SELECT (auth), jobs INSERT, markRunning UPDATE, finishJob UPDATE; under load the " +
              "concurrent ones share a statement (see loaded.dbTransactionsPerJob)",
            dbWriteCommits: "alone 3, shared under load",
            amqpRoundTripsOnSubmit: "1: publish → confirm (the queue is declared once per process)",
            agentFsyncs: 1,
          },
          ...(f.cpuProfile ? { controlPlaneCpuProfile: f.cpuProfile } : {}),
        },
      };
    },
  });
}

/** Latencies and their breakdown, in ms, from the submitted jobs and their rows' DB timestamps. */
async function jobTimes(sql: postgres.Sql, done: Submitted[]) {
  const rows = new Map<string, JobTimes>();
  const ids = done.map((d) => d.id);
  for (let i = 0; i < ids.length; i += 5000) {
    const chunk = `{${ids.slice(i, i + 5000).join(",")}}`;
    const found = await sql<{ id: string; status: string; c: string; s: string | null; f: string | null }[]>`
      select id::text as id, status,
             (extract(epoch from created_at) * 1000000)::bigint::text as c,
             (extract(epoch from started_at) * 1000000)::bigint::text as s,
             (extract(epoch from finished_at) * 1000000)::bigint::text as f
      from jobs where id = any(${chunk}::uuid[])`;
    for (const r of found) {
      rows.set(r.id, { id: r.id, status: r.status, createdUs: Number(r.c), startedUs: r.s === null ? null : Number(r.s), finishedUs: r.f === null ? null : Number(r.f) });
    }
  }
  const out = { roundTrip: [] as number[], pipeline: [] as number[], toInsert: [] as number[], insertToRunning: [] as number[], runningToFinishing: [] as number[], finishingToSeen: [] as number[], http: [] as number[], succeeded: 0, failed: 0, other: 0 };
  for (const d of done) {
    const r = rows.get(d.id);
    if (!r || r.status !== "succeeded" || d.status !== "succeeded" || r.finishedUs === null || r.startedUs === null) {
      if (r?.status === "failed") out.failed++;
      else out.other++;
      continue;
    }
    out.succeeded++;
    out.roundTrip.push((d.seenUs - d.startUs) / 1000);
    out.pipeline.push((d.seenUs - r.createdUs) / 1000);
    out.toInsert.push((r.createdUs - d.startUs) / 1000);
    out.insertToRunning.push((r.startedUs - r.createdUs) / 1000);
    out.runningToFinishing.push((r.finishedUs - r.startedUs) / 1000);
    out.finishingToSeen.push((d.seenUs - r.finishedUs) / 1000);
    out.http.push(d.httpMs);
  }
  return out;
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


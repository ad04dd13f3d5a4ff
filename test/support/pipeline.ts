import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LxdClient } from "../../agent/lxd/client";
import { findLxdSocket } from "../../agent/lxd/socket";
import { AmqpQueue } from "../../shared/queue/amqp";
import { bodyAt, fetchApi, resultOf, type ApiMethod, type BodyOf } from "./api";
import { freshPostgresDatabase } from "./database";
import { AMQP_URL, POSTGRES_ADMIN_URL, POSTGRES_SOCKET_DIR } from "./local-services";
import { accountThroughLog, type SignedInAccount } from "./log-accounts";
import type { Namespace } from "./netns";
import { freePort, Program } from "./processes";

type Host = BodyOf<"POST", "/api/v1/hosts", 201>["host"];
type Job = BodyOf<"GET", "/api/v1/jobs/:id", 200>["job"];
/** What GET /jobs/{id}/events sends (functions/jobs/routes.ts), one server-sent event each. */
export type JobEvent =
  | { event: "step"; data: Job["steps"][number] }
  | { event: "status"; data: { status: Job["status"] } }
  | { event: "end"; data: Job }
  | { event: "revoked"; data: { message: string } };

export interface PipelineOptions {
  heartbeatMs?: number;
  /** The agent's WireGuard interface (off unless given: test files must not share one). */
  wireguard?: { interface: string; address: string; port: number; endpoint: string };
  /** More control-plane settings (e.g. KWS_BRIDGE_RANGE, so concurrent test files never share an address). */
  env?: Record<string, string>;
  /**
   * Runs the control plane inside this network namespace, reached at the namespace's address; the
   * agent stays outside and dials it there. Its loopback is its own, so it reaches PostgreSQL over
   * the unix socket and no RabbitMQ or Redis (in-process queue and KV).
   */
  netns?: Namespace;
}

/**
 * The real pipeline as separate processes: the control plane with its gateway (`npm start`'s
 * entry) on PostgreSQL and RabbitMQ, one enrolled agent (`npm run agent`'s entry) on the real
 * LXD, and an LXD client for the test to check what really exists.
 */
export class Pipeline {
  controlPlane!: Program;
  agent!: Program;
  lxd!: LxdClient;
  url!: string;
  /** The control plane's own database (a fresh one), for tests that check its rows and components run beside it. */
  databaseUrl!: string;
  host!: Host;
  /** An admin API token (it survives control-plane restarts, unlike a session in the memory KV). */
  token!: string;
  /** The administrator (KWS_ADMINS) whose token that is, with a session for browser tests. */
  admin!: SignedInAccount;
  private dropDatabase!: () => Promise<void>;
  private readonly dir = mkdtempSync(join(tmpdir(), "kws-pipeline-"));
  readonly deadLetterQueue = `kws.test.dead.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  private onRabbitMq = true;

  static async start(options: PipelineOptions = {}): Promise<Pipeline> {
    const p = new Pipeline();
    await p.boot(options);
    return p;
  }

  private async boot(options: PipelineOptions) {
    const socketPath = findLxdSocket();
    if (!socketPath) throw new Error("no LXD socket: run scripts/host-setup.sh");
    this.lxd = new LxdClient({ socketPath });
    const db = await freshPostgresDatabase(POSTGRES_ADMIN_URL);
    await db.handle.close();
    this.dropDatabase = db.drop;
    this.databaseUrl = db.url;
    const port = await freePort();
    this.url = `http://${options.netns?.address ?? "127.0.0.1"}:${port}`;
    const adminEmail = `admin.${Date.now().toString(36)}@example.org`;
    const database = new URL(db.url);
    this.onRabbitMq = !options.netns;
    const services: Record<string, string> = options.netns
      ? // postgres.js takes a socket directory from PGHOST only when the URL names no host.
        { DATABASE_URL: `postgres:///${database.pathname.slice(1)}`, PGHOST: POSTGRES_SOCKET_DIR, PGUSER: database.username, AMQP_URL: "", REDIS_URL: "" }
      : { DATABASE_URL: db.url, AMQP_URL };
    this.controlPlane = new Program("control-plane", "main/embedded.ts", [], {
      NODE_ENV: "test",
      PORT: String(port),
      PUBLIC_URL: this.url,
      ...services,
      KWS_DEAD_LETTER_QUEUE: this.deadLetterQueue,
      KWS_ADMINS: adminEmail,
      KWS_DATA_DIR: join(this.dir, "control-plane"),
      GATEWAY_HEARTBEAT_MS: String(options.heartbeatMs ?? 1000),
      UPSTASH_REDIS_REST_URL: "",
      UPSTASH_REDIS_REST_TOKEN: "",
      SMTP_URL: "",
      TRUST_PROXY: "true",
      // The test's own agent is the only host: npm start's local agent would take placements too.
      KWS_LOCAL_AGENT: "off",
      ...options.env,
    }, options.netns?.name);
    await this.startControlPlane();
    this.admin = await this.account(adminEmail);
    this.token = this.admin.token;
    const created = await this.api("POST", "/hosts", { name: `pipe-${Date.now().toString(36)}` });
    if (created.status !== 201) throw new Error(`create host: ${JSON.stringify(created.body)}`);
    this.host = created.body.host;
    // A control plane in a namespace is across a veth link of this machine's own: plain http is fine there.
    const insecure = options.netns ? ["--insecure-gateway"] : [];
    this.agent = new Program("agent", "agent/main.ts", ["--gateway", this.url, "--state-dir", join(this.dir, "agent"), ...insecure], {
      LXD_SOCKET: socketPath,
      // Test files run two at a time: their agents must not fight over one WireGuard interface.
      ...(options.wireguard
        ? {
            KWS_WG_INTERFACE: options.wireguard.interface,
            KWS_WG_ADDRESS: options.wireguard.address,
            KWS_WG_PORT: String(options.wireguard.port),
            KWS_WG_ENDPOINT: options.wireguard.endpoint,
          }
        : { KWS_WIREGUARD: "off" }),
    });
    this.agent.start(["--enroll", created.body.enrollmentToken]);
    await this.waitHostOnline();
  }

  async startControlPlane() {
    const from = this.controlPlane.lines.length;
    this.controlPlane.start();
    await this.controlPlane.waitFor((l) => l.msg === "listening", 30_000, from);
  }

  /** Starts the agent again (already enrolled: no token). */
  startAgent() {
    this.agent.start();
  }

  /** Stops the agent and starts it again (same state, same credential) against another gateway. */
  async moveAgentTo(gatewayUrl: string) {
    await this.agent.stop("SIGTERM");
    // The data connection stays with the control plane, which runs the ingress.
    this.agent = new Program("agent", "agent/main.ts", ["--gateway", gatewayUrl, "--state-dir", join(this.dir, "agent")], {
      ...this.agent.env,
      KWS_STREAMS_URL: this.url,
    });
    this.agent.start();
  }

  /** Registers, verifies and signs in an account; answers an API token of it. */
  async userToken(email?: string): Promise<string> {
    return (await this.account(email)).token;
  }

  /** A verified, signed-in account: its session cookie and an API token. */
  account(email?: string): Promise<SignedInAccount> {
    return accountThroughLog(this.controlPlane, this.url, email);
  }

  /** A request to the API (`/api/v1` + `path`) with the admin's token or `token`; the reply is typed by its route. */
  api<M extends ApiMethod, P extends string>(method: M, path: P, body?: unknown, token = this.token) {
    return fetchApi(this.url, method, `/api/v1${path}`, { body, token });
  }

  /** `api` with `token`, for a test that acts as one account. */
  apiAs(token: string) {
    return <M extends ApiMethod, P extends string>(method: M, path: P, body?: unknown) => this.api(method, path, body, token);
  }

  /** This pipeline's host as the host list shows it. */
  async hostRow(): Promise<Host> {
    const res = await this.api("GET", "/hosts");
    if (res.status !== 200) throw new Error(`hosts: ${res.status} ${JSON.stringify(res.body)}`);
    const host = res.body.hosts.find((h) => h.id === this.host.id);
    if (!host) throw new Error(`host ${this.host.id} is not in the list`);
    return host;
  }

  async waitHostOnline(timeoutMs = 30_000) {
    await this.until(async () => (await this.hostRow()).state === "online", timeoutMs, "host online");
  }

  async submit(kind: string, payload: Record<string, unknown>, deadlineSeconds?: number): Promise<Job> {
    const res = await this.api("POST", `/hosts/${this.host.id}/jobs`, { kind, payload, ...(deadlineSeconds ? { deadlineSeconds } : {}) });
    if (res.status !== 202) throw new Error(`submit ${kind}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.job;
  }

  async job(id: string, token = this.token): Promise<Job> {
    const res = await this.api("GET", `/jobs/${id}`, undefined, token);
    if (res.status !== 200) throw new Error(`job ${id}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.job;
  }

  async waitJob(id: string, predicate: (job: Job) => boolean, timeoutMs = 60_000, what = "job state", token = this.token): Promise<Job> {
    let last: Job | undefined;
    await this.until(async () => predicate((last = await this.job(id, token))), timeoutMs, `${what} (last: ${JSON.stringify(last)})`);
    return last!;
  }

  waitFinal(id: string, timeoutMs = 90_000, token = this.token) {
    return this.waitJob(id, (j) => j.status === "succeeded" || j.status === "failed", timeoutMs, "final", token);
  }

  /** Deploys the account's instance through the API and waits for it: the deploy's result (name, address...). */
  async deploy(token: string, body: { username: string; password: string }, timeoutMs = 120_000) {
    const res = await this.api("POST", "/instance", body, token);
    const job = await this.waitFinal(bodyAt(res, 202).job.id, timeoutMs, token);
    if (job.status !== "succeeded") throw new Error(`deploy: ${JSON.stringify(job.error)}`);
    return resultOf(job, "instance.deploy");
  }

  /** A job's server-sent events, read until the stream ends. */
  async jobEvents(id: string, token = this.token): Promise<JobEvent[]> {
    const res = await fetch(`${this.url}/api/v1/jobs/${id}/events`, { headers: { authorization: `Bearer ${token}` } });
    const type = res.headers.get("content-type")?.split(";")[0];
    if (type !== "text/event-stream") throw new Error(`job events: ${res.status} ${type}`);
    return (await res.text())
      .split("\n\n")
      .filter((block) => block.trim())
      .map((block) => ({ event: block.match(/^event: (.*)$/m)?.[1], data: JSON.parse(block.match(/^data: (.*)$/m)?.[1] ?? "null") }) as JobEvent);
  }

  async until(check: () => Promise<boolean>, timeoutMs: number, what: string) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        if (await check()) return;
      } catch {
        // The control plane may be restarting; keep polling until the deadline.
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async close() {
    if (this.host) await this.api("DELETE", `/hosts/${this.host.id}`).catch(() => undefined);
    await this.agent?.stop("SIGTERM").catch(() => this.agent.stop("SIGKILL"));
    await this.controlPlane?.stop("SIGTERM").catch(() => this.controlPlane.stop("SIGKILL"));
    await this.dropDatabase?.();
    if (this.onRabbitMq) {
      const queue = await AmqpQueue.connect({ url: AMQP_URL, deadLetterQueue: this.deadLetterQueue });
      await queue.remove(this.deadLetterQueue);
      await queue.close();
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

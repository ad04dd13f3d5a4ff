import type WebSocket from "ws";
import type { Database } from "../../shared/db";
import type { Host } from "../../shared/db/schema";
import { desiredPeers } from "../devices/desired-peers";
import { recordActivity } from "../idle/queries";
import { markConnected, markDisconnected, recordFacts } from "../hosts/store";
import { JOB_MAX_ATTEMPTS, notifyGateway } from "../core/jobs/notices";
import { appendStep, finishJob, type Outcome } from "../core/jobs/store";
import { claimJobs, exhaustedOn } from "./claims";
import type { Logger } from "../../shared/logger";
import {
  AgentMessageSchema,
  compatible,
  parseFrame,
  PROTOCOL_VERSION,
  stamp,
  type AgentMessage,
  type ActivitySettings,
  type GatewayMessageBody,
  type Hello,
} from "../../shared/protocol/messages";
import type { QueuePort } from "../../shared/queue/port";
import type { SecretBox } from "../../shared/crypto/secret-box";
import { CloseCodes } from "../../shared/protocol/close-codes";
import { openSealedPayload } from "../core/jobs/sealed";
import type { Metrics } from "../metrics/registry";
import type { Job } from "../../shared/db/schema";

/** What the gateway hands each of its sessions (and takes itself). */
export interface SessionServices {
  db: Database;
  queue: QueuePort;
  logger: Logger;
  heartbeatMs: number;
  /** Opens the sealed secrets of job payloads (functions/core/jobs/sealed.ts); the control plane's KWS_SECRET_KEY. */
  secretBox?: SecretBox;
  /** Jobs in flight to one agent (sent, no result yet). */
  prefetch?: number;
  /** What agents are asked to report for idle auto-stop (functions/idle/); none without it. */
  activity?: ActivitySettings;
  /** Where jobs' outcomes, websocket messages and the agents' own figures are counted. */
  metrics?: Metrics;
}

export interface AgentSessionOptions extends SessionServices {
  ws: WebSocket;
  host: Host;
  /** The gateway process this session runs in; its notice queue is where other processes reach it. */
  gatewayId: string;
  connectionId: string;
  helloTimeoutMs?: number;
  /** Called once, when the session has ended for whatever reason. */
  onClose(session: AgentSession): void;
  /** Called when hello is accepted; the gateway makes this the host's only session. */
  onEstablished(session: AgentSession): void;
}

/**
 * One agent's websocket: hello/welcome, then the host's open jobs are claimed from the jobs table
 * (at hello, on a notice, at the gateway's rescan, as results free room) and sent as commands;
 * progress and results go to the jobs table, and a result is acked to the agent once stored. A job
 * whose result never came is claimed again by the host's next connection, on whatever gateway.
 */
export class AgentSession {
  readonly hostId: string;
  readonly hostName: string;
  private readonly log: Logger;
  /** Jobs sent and not finished yet. */
  private readonly inFlight = new Set<string>();
  private dispatching = false;
  private dispatchAgain = false;
  private established = false;
  private closed = false;
  private lastPong = Date.now();
  private pongSinceFlush = true;
  private helloTimer?: ReturnType<typeof setTimeout>;
  // Frames are handled one after another, so steps are stored in the order the agent sent them
  // and a result is never stored before the progress that preceded it.
  private inbox: Promise<void> = Promise.resolve();

  constructor(private readonly o: AgentSessionOptions) {
    this.hostId = o.host.id;
    this.hostName = o.host.name;
    this.log = o.logger.child({ hostId: o.host.id, connectionId: o.connectionId });
    o.ws.on("message", (data) => {
      this.inbox = this.inbox.then(() => this.onFrame(data.toString()));
    });
    o.ws.on("pong", () => {
      this.lastPong = Date.now();
      this.pongSinceFlush = true;
    });
    o.ws.on("close", (code, reason) => void this.teardown(code, reason.toString()));
    o.ws.on("error", (err) => this.log.warn("agent socket error", { err: err.message }));
    this.helloTimer = setTimeout(() => this.close(CloseCodes.noHello, "no hello within the time limit"), o.helloTimeoutMs ?? 10_000);
  }

  get connectionId() {
    return this.o.connectionId;
  }

  /** Pings, and ends a connection that missed two heartbeats. */
  heartbeat(now = Date.now()) {
    if (this.closed) return;
    if (now - this.lastPong > 2 * this.o.heartbeatMs) {
      this.log.warn("agent missed heartbeats; dropping the connection", { lastPongMsAgo: now - this.lastPong });
      this.o.ws.terminate();
      return;
    }
    this.o.ws.ping();
  }

  /** Whether a pong came since the last call (for the batched heartbeat write). */
  takePong(): boolean {
    const had = this.pongSinceFlush && this.established;
    this.pongSinceFlush = false;
    return had;
  }

  close(code: number, reason: string) {
    if (this.closed) return;
    this.o.ws.close(code, reason);
    // A peer that does not answer the close handshake must not keep the host's queue.
    setTimeout(() => this.o.ws.terminate(), 2000).unref();
    void this.teardown(code, reason);
  }

  /** Whether hello was accepted (else the socket is still handshaking). */
  get isEstablished() {
    return this.established;
  }

  private send(body: GatewayMessageBody) {
    if (this.o.ws.readyState !== this.o.ws.OPEN) return;
    this.o.ws.send(JSON.stringify(stamp(body)));
    this.o.metrics?.wsMessages.inc({ direction: "out", type: body.type });
  }

  /** Stores a job's outcome; counted once, by whichever finish changed the row. */
  private async finish(jobId: string, outcome: Outcome, hostId?: string): Promise<Job | undefined> {
    const done = await finishJob(this.o.db, jobId, outcome, hostId);
    if (done) this.o.metrics?.jobFinished(done);
    return done;
  }

  private async onFrame(raw: string) {
    const parsed = parseFrame(AgentMessageSchema, raw);
    this.o.metrics?.wsMessages.inc({ direction: "in", type: parsed.ok ? parsed.message.type : "malformed" });
    if (!parsed.ok) {
      this.log.warn("malformed agent frame", { error: parsed.error });
      if (!this.established && parsed.error.startsWith("protocol major version")) {
        this.refuse(`${parsed.error}; upgrade the agent or the gateway`);
        return;
      }
      this.send({ type: "error", message: parsed.error });
      return;
    }
    try {
      await this.handle(parsed.message);
    } catch (err) {
      this.log.error("agent message failed", { type: parsed.message.type, err });
    }
  }

  private refuse(reason: string) {
    this.send({ type: "refused", reason });
    this.close(CloseCodes.refused, reason.slice(0, 120));
  }

  private async handle(m: AgentMessage) {
    if (m.type === "hello") return this.onHello(m);
    if (!this.established) {
      this.send({ type: "error", message: "send hello first" });
      return;
    }
    switch (m.type) {
      case "facts":
        await recordFacts(this.o.db, this.hostId, m.facts);
        return;
      case "progress":
        await appendStep(this.o.db, m.jobId, this.hostId, m.step, m.message);
        return;
      case "result":
        return this.onResult(m);
      case "wg-peers-request":
        return this.onPeersRequest(m);
      case "activity":
        await recordActivity(this.o.db, this.hostId, m.instances);
        return;
      case "metrics":
        this.o.metrics?.agentReport(this.hostName, m);
        return;
      case "error":
        this.log.warn("agent reported a protocol error", { message: m.message });
        return;
    }
  }

  private async onHello(hello: Hello) {
    if (this.established) {
      this.send({ type: "error", message: "hello was already accepted" });
      return;
    }
    clearTimeout(this.helloTimer);
    if (!compatible(hello.protocol)) {
      this.refuse(`protocol ${hello.protocol} is not supported: this gateway speaks ${PROTOCOL_VERSION}; upgrade the agent`);
      return;
    }
    this.established = true;
    this.o.onEstablished(this);
    const replaced = await markConnected(this.o.db, this.hostId, { connectionId: this.o.connectionId, gatewayId: this.o.gatewayId }, hello);
    if (replaced?.gatewayId && replaced.gatewayId !== this.o.gatewayId) {
      await notifyGateway(this.o.queue, this.log, replaced.gatewayId, { type: "replaced", hostId: this.hostId, connectionId: replaced.connectionId });
    }
    if (this.closed) return;
    this.send({
      type: "welcome",
      protocol: PROTOCOL_VERSION,
      hostId: this.hostId,
      hostName: this.o.host.name,
      heartbeatMs: this.o.heartbeatMs,
      ...(this.o.activity ? { activity: this.o.activity } : {}),
    });
    this.log.info("agent connected", { agentVersion: hello.agentVersion, lxdVersion: hello.lxdVersion, degradedReason: hello.degradedReason, replaced });
    this.dispatch();
  }

  /**
   * Claims and sends the host's waiting jobs. Calls while a claim runs make it go round once more,
   * so a notice that arrives mid-claim is not lost and claims of one session never overlap.
   */
  dispatch(): void {
    if (!this.established || this.closed) return;
    if (this.dispatching) {
      this.dispatchAgain = true;
      return;
    }
    this.dispatching = true;
    void (async () => {
      try {
        do {
          this.dispatchAgain = false;
          await this.claimAndSend();
        } while (this.dispatchAgain && !this.closed);
      } catch (err) {
        this.log.error("claiming the host's jobs failed; the next rescan tries again", { err });
      } finally {
        this.dispatching = false;
      }
    })();
  }

  private async claimAndSend() {
    const room = (this.o.prefetch ?? 64) - this.inFlight.size;
    if (room <= 0) return;
    const claimed = await claimJobs(this.o.db, this.hostId, this.o.connectionId, room);
    for (const job of claimed) {
      if (job.attempts > JOB_MAX_ATTEMPTS) await this.deadLetter(job);
      else await this.sendCommand(job);
    }
    // A full claim may have left more behind.
    if (claimed.length === room) this.dispatchAgain = true;
  }

  private async sendCommand(job: Job) {
    if (job.deadline.getTime() <= Date.now()) {
      await this.finish(job.id, {
        ok: false,
        error: { code: "deadline_passed", message: `the job's deadline passed before host ${this.o.host.name} could run it` },
      });
      return;
    }
    let payload: Record<string, unknown>;
    try {
      payload = await openSealedPayload(this.o.secretBox, job.id, job.payload);
    } catch (err) {
      // Another attempt cannot open it either: fail the job now instead of three times.
      this.log.error("cannot open the job's sealed payload", { jobId: job.id, err });
      await this.finish(job.id, {
        ok: false,
        error: { code: "secret_unavailable", message: "the job's secret cannot be opened here (KWS_SECRET_KEY missing or different on this gateway)" },
      });
      return;
    }
    this.inFlight.add(job.id);
    this.send({ type: "command", jobId: job.id, attempt: job.attempts, kind: job.kind, payload, deadline: job.deadline.toISOString() });
  }

  /** A job every allowed attempt of which ended without a result. */
  private async deadLetter(job: Job) {
    const done = await this.finish(job.id, {
      ok: false,
      error: {
        code: "attempts_exhausted",
        message: `gave up after ${JOB_MAX_ATTEMPTS} delivery attempts: the agent of host ${this.o.host.name} disconnected or its gateway stopped during each`,
      },
    });
    if (done) {
      this.log.warn("job dead-lettered", { jobId: job.id });
      this.o.metrics?.deadLetters.inc({ kind: job.kind });
    }
  }

  private async onResult(m: Extract<AgentMessage, { type: "result" }>) {
    const outcome = m.ok ? { ok: true as const, data: m.data } : { ok: false as const, error: m.error };
    await this.finish(m.jobId, outcome, this.hostId);
    // Stored (or already final): the agent may forget it.
    this.send({ type: "ack", jobId: m.jobId });
    if (this.inFlight.delete(m.jobId)) this.dispatch();
  }

  /** A failed read goes unanswered (onFrame logs it): the agent keeps its current peers and asks again later. */
  private async onPeersRequest(m: Extract<AgentMessage, { type: "wg-peers-request" }>) {
    const peers = await desiredPeers(this.o.db, this.hostId);
    this.send({ type: "wg-peers", requestId: m.id, peers });
  }

  private async teardown(code: number, reason: string) {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.helloTimer);
    this.inFlight.clear();
    if (this.established) {
      await this.settleLastAttempts().catch((err) => this.log.warn("dead-lettering this connection's last attempts failed; its next claim does", { err }));
      await markDisconnected(this.o.db, this.hostId, this.o.connectionId).catch((err) =>
        this.log.warn("marking the host offline failed", { err }),
      );
    }
    this.log.info("agent disconnected", { code, reason });
    this.o.onClose(this);
  }

  /** The jobs whose last allowed attempt this connection took fail now, not when the host comes back. */
  private async settleLastAttempts() {
    for (const job of await exhaustedOn(this.o.db, this.o.connectionId)) await this.deadLetter(job);
  }
}

import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { rowsOf } from "../../shared/db";
import { coalesce } from "../../shared/db/coalesce";
import type { Logger } from "../../shared/logger";
import type { NodeServices } from "../node-services";
import { disabledMail } from "./mails";
import { WEBHOOK_CHANNEL } from "./outbox";
import { FAILING_DISABLE_MS, nextDelayMs } from "./schedule";
import { type AttemptResult, WebhookSender } from "./sender";
import { messageId, signedHeaders } from "./signature";
import { openSecret } from "./secrets";

export interface WebhookWorkerOptions {
  services: Pick<NodeServices, "db" | "secretBox" | "mailer" | "config" | "listen"> & Partial<Pick<NodeServices, "metrics">>;
  logger: Logger;
  /** Attempts in flight at once in this worker. */
  concurrency?: number;
  /** How often due deliveries are looked for without a NOTIFY (retries, expired leases). */
  pollMs?: number;
}

interface Success {
  id: string;
  attempt: number;
  status: number;
  ms: number;
}

/** A claimed delivery: what one attempt needs. */
interface Claimed {
  id: string;
  endpoint_id: string;
  event_id: string;
  attempts: number;
  url: string;
  secret_encrypted: string;
  previous_secret_encrypted: string | null;
  previous_secret_expires_at: Date | string | null;
  payload: unknown;
}

/**
 * Sends due webhook deliveries. Any number of workers (in control planes and `npm run webhooks`)
 * share the work through PostgreSQL: a claim takes due deliveries FOR UPDATE SKIP LOCKED and
 * leases them (their next attempt moves to the lease's end), so no delivery is sent by two workers
 * at once, and one whose worker died is due again when its lease runs out, with the same
 * webhook-id. Only the lease's holder records the result.
 */
export class WebhookWorker {
  private readonly sender: WebhookSender;
  private readonly leaseId = randomUUID();
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private inFlight = new Set<Promise<void>>();
  private stopped = false;
  private pumping?: Promise<void>;
  private again = false;
  private timer?: ReturnType<typeof setTimeout>;
  /** Wake-ups at the retries this worker scheduled (others' are found by the poll). */
  private readonly retryTimers = new Set<ReturnType<typeof setTimeout>>();
  private unlisten?: () => Promise<void>;

  constructor(private readonly o: WebhookWorkerOptions) {
    this.sender = new WebhookSender(o.services.config);
    this.concurrency = o.concurrency ?? 64;
    // Past the attempt's timeout, with room for recording its result.
    this.leaseMs = o.services.config.webhooks.timeoutMs + 5_000;
  }

  async start() {
    this.unlisten = await this.o.services.listen(WEBHOOK_CHANNEL, () => this.wake());
    this.wake();
    this.o.logger.info("webhook worker started", { leaseId: this.leaseId, concurrency: this.concurrency });
  }

  /** Looks for due deliveries now (a NOTIFY, a finished attempt, the poll). */
  wake() {
    if (this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.pumping = this.pump()
      .catch((err: unknown) => this.o.logger.error("webhook claim failed", { err }))
      .finally(() => {
        this.pumping = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        } else if (!this.stopped) {
          this.timer = setTimeout(() => this.wake(), this.o.pollMs ?? 1000);
          this.timer.unref?.();
        }
      });
  }

  private async pump() {
    while (!this.stopped) {
      const room = this.concurrency - this.inFlight.size;
      if (room <= 0) return;
      const claimed = await this.claim(room);
      for (const delivery of claimed) {
        const running: Promise<void> = this.attempt(delivery)
          .catch((err: unknown) => this.o.logger.error("webhook attempt not recorded", { deliveryId: delivery.id, err }))
          .finally(() => {
            this.inFlight.delete(running);
            this.wake();
          });
        this.inFlight.add(running);
      }
      if (claimed.length < room) return;
    }
  }

  private async claim(limit: number): Promise<Claimed[]> {
    return rowsOf<Claimed>(await this.o.services.db.execute(sql`
      with due as (
        select d.id from webhook_deliveries d
        where d.state = 'pending' and d.next_attempt_at <= now()
        order by d.next_attempt_at
        limit ${limit}::int
        for update skip locked
      )
      update webhook_deliveries d
      set lease_id = ${this.leaseId}, next_attempt_at = now() + ${this.leaseMs}::float8 * interval '1 millisecond', updated_at = now()
      from due, webhook_endpoints e, webhook_events ev
      where d.id = due.id and e.id = d.endpoint_id and ev.id = d.event_id
      returning d.id, d.endpoint_id, d.event_id, d.attempts, e.url, e.secret_encrypted, e.previous_secret_encrypted,
        e.previous_secret_expires_at, ev.payload`));
  }

  /** Opened secrets by their sealed text (a rotation seals a new text): one decryption per secret, not per attempt. */
  private readonly opened = new Map<string, Promise<string>>();

  private secret(endpointId: string, sealed: string): Promise<string> {
    let secret = this.opened.get(sealed);
    if (!secret) {
      if (this.opened.size >= 10_000) this.opened.clear();
      secret = openSecret(this.o.services.secretBox, endpointId, sealed);
      secret.catch(() => this.opened.delete(sealed));
      this.opened.set(sealed, secret);
    }
    return secret;
  }

  private async attempt(d: Claimed) {
    const secrets = [await this.secret(d.endpoint_id, d.secret_encrypted)];
    const previousUntil = d.previous_secret_expires_at ? new Date(d.previous_secret_expires_at).getTime() : 0;
    if (d.previous_secret_encrypted && previousUntil > Date.now()) secrets.push(await this.secret(d.endpoint_id, d.previous_secret_encrypted));
    const body = JSON.stringify(d.payload);
    const headers = signedHeaders(secrets, messageId(d.event_id), Math.floor(Date.now() / 1000), body);
    const result = await this.sender.send({ url: d.url, headers, body });
    const attempt = d.attempts + 1;
    const ok = result.statusCode !== undefined && result.statusCode >= 200 && result.statusCode < 300;
    const log = this.o.logger.child({ deliveryId: d.id, webhookId: headers["webhook-id"], attempt });
    const event = (d.payload as { type?: string } | null)?.type ?? "unknown";
    if (ok) {
      const recorded = await this.recordSuccess(d, attempt, result);
      if (recorded) this.o.services.metrics?.webhookDeliveries.inc({ event, outcome: "delivered" });
      log.debug("webhook delivered", { status: result.statusCode, ms: result.durationMs, recorded });
      return;
    }
    const outcome = await this.recordFailure(d, attempt, result, log);
    if (outcome) this.o.services.metrics?.webhookDeliveries.inc({ event, outcome });
  }

  /** Successes that end together share one statement (coalesced): the deliveries succeeded, the attempts are logged, the endpoints are no longer failing. */
  private readonly successes = coalesce((items: Success[]) => this.recordSuccesses(items));

  private async recordSuccess(d: Claimed, attempt: number, r: AttemptResult): Promise<boolean> {
    return this.successes({ id: d.id, attempt, status: r.statusCode!, ms: r.durationMs });
  }

  private async recordSuccesses(items: Success[]): Promise<boolean[]> {
    const rows = rowsOf<{ id: string }>(
      await this.o.services.db.execute(sql`
        with batch as (
          select * from jsonb_to_recordset(${JSON.stringify(items)}::jsonb) as b(id uuid, attempt int, status int, ms int)
        ), done as (
          update webhook_deliveries d set state = 'succeeded', attempts = batch.attempt, lease_id = null, updated_at = now()
          from batch where d.id = batch.id and d.lease_id = ${this.leaseId} and d.state = 'pending'
          returning d.id, d.endpoint_id, batch.attempt, batch.status, batch.ms
        ), logged as (
          insert into webhook_attempts (delivery_id, endpoint_id, attempt, status_code, duration_ms)
          select id, endpoint_id, attempt, status, ms from done
        ), healthy as (
          update webhook_endpoints set failing_since = null where id in (select endpoint_id from done) and failing_since is not null
        )
        select id::text from done`),
    );
    const recorded = new Set(rows.map((r) => r.id));
    return items.map((i) => recorded.has(i.id));
  }

  /**
   * The attempt failed: logged, and the delivery is due again on the schedule (or fails); answers
   * which, or undefined when this worker's lease had ended (another recorded it). A 410,
   * or failing every attempt for 5 days, disables the endpoint: its pending deliveries fail and its
   * owner gets a mail.
   */
  private async recordFailure(d: Claimed, attempt: number, r: AttemptResult, log: Logger): Promise<"retry" | "failed" | undefined> {
    const { db, config } = this.o.services;
    const scale = config.webhooks.retryScale;
    const gone = r.statusCode === 410;
    const delay = gone ? undefined : nextDelayMs(attempt, scale, r.retryAfterMs);
    const nextAt = delay === undefined ? null : new Date(Date.now() + delay);
    // As text: the driver takes no Date in a raw statement.
    const nextAtText = nextAt?.toISOString() ?? null;
    const error = r.error ?? `answered ${r.statusCode}`;
    const stored = await db.transaction(async (tx) => {
      const updated = rowsOf(await tx.execute(sql`
        update webhook_deliveries set state = ${nextAt ? "pending" : "failed"}, attempts = ${attempt}, lease_id = null,
          next_attempt_at = coalesce(${nextAtText}::timestamptz, next_attempt_at), updated_at = now()
        where id = ${d.id} and lease_id = ${this.leaseId} and state = 'pending'
        returning id`));
      if (updated.length === 0) return { recorded: false };
      await tx.execute(sql`
        insert into webhook_attempts (delivery_id, endpoint_id, attempt, status_code, duration_ms, error, next_attempt_at)
        values (${d.id}, ${d.endpoint_id}, ${attempt}, ${r.statusCode ?? null}, ${r.durationMs}, ${error}, ${nextAtText}::timestamptz)`);
      const [endpoint] = rowsOf<{ too_long: boolean }>(await tx.execute(sql`
        update webhook_endpoints set failing_since = coalesce(failing_since, now())
        where id = ${d.endpoint_id} and enabled
        returning failing_since <= now() - ${FAILING_DISABLE_MS * scale}::float8 * interval '1 millisecond' as too_long`));
      if (!endpoint || !(gone || endpoint.too_long)) return { recorded: true };
      const reason = gone ? "the endpoint answered 410 Gone" : "every attempt failed for 5 days";
      await tx.execute(sql`update webhook_endpoints set enabled = false, disabled_reason = ${reason}, updated_at = now() where id = ${d.endpoint_id}`);
      await tx.execute(sql`
        update webhook_deliveries set state = 'failed', lease_id = null, updated_at = now()
        where endpoint_id = ${d.endpoint_id} and state = 'pending' and (lease_id is null or id = ${d.id})`);
      const [owner] = rowsOf<{ to: string; firstName: string; url: string }>(await tx.execute(sql`
        select u.email as "to", u.first_name as "firstName", e.url from webhook_endpoints e join users u on u.id = e.user_id
        where e.id = ${d.endpoint_id}`));
      return { recorded: true, reason, owner };
    });
    if (nextAt) this.wakeAt(nextAt.getTime());
    log.info("webhook attempt failed", { status: r.statusCode, error, ms: r.durationMs, nextAttemptAt: nextAt?.toISOString() ?? null });
    if (stored.owner) {
      log.warn("webhook endpoint disabled", { endpointId: d.endpoint_id, reason: stored.reason });
      await this.o.services.mailer
        .send(disabledMail(stored.owner, stored.owner.url, stored.reason))
        .catch((err: unknown) => log.error("webhook disabled mail failed", { err }));
    }
    if (!stored.recorded) return undefined;
    return nextAt ? "retry" : "failed";
  }

  private wakeAt(at: number) {
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      this.wake();
    }, Math.max(0, at - Date.now()) + 5);
    timer.unref?.();
    this.retryTimers.add(timer);
  }

  async stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const timer of this.retryTimers) clearTimeout(timer);
    await this.unlisten?.();
    await this.pumping;
    await Promise.all(this.inFlight);
    this.sender.close();
  }
}

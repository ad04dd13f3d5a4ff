import { and, eq } from "drizzle-orm";
import type { Context } from "hono";
import type { Db } from "../../shared/db";
import { auditEvents, type AuditActorKind, type AuditOutcome, type Job } from "../../shared/db/schema";
import type { OutcomeHandler } from "../core/jobs/outcomes";
import { AppError } from "../core/errors";
import type { AppEnv } from "../env";
import { clientIp } from "../middleware/client-ip";

/** Who caused a change and from where: what every audit event records of its cause. */
export interface Actor {
  kind: AuditActorKind;
  userId: string | null;
  tokenId: string | null;
  ip: string | null;
  requestId: string | null;
}

/** A signed-in person, in a browser or through one of their API tokens: the actor of changes to their own things. */
export type Person = Actor & { userId: string };

/** The request's actor: the signed-in person (or their token), else anonymous; the address as the login limits see it. */
export function actorOf<E extends AppEnv>(c: Context<E>): Actor {
  const auth = c.get("auth");
  return {
    kind: auth ? (auth.tokenId ? "token" : "person") : "anonymous",
    userId: auth?.user.id ?? null,
    tokenId: auth?.tokenId ?? null,
    ip: clientIp(c),
    requestId: c.get("requestId") ?? null,
  };
}

/** The signed-in person of a request (the routes' and pages' guards have checked there is one). */
export function personOf<E extends AppEnv>(c: Context<E>): Person {
  const actor = actorOf(c);
  if (actor.userId === null) throw new AppError("unauthorized", "sign in or send an API token");
  return { ...actor, userId: actor.userId };
}

/** Background work: a sweep, a check, a job's end (the request that submitted a job keeps its own actor). */
export const systemActor = (requestId: string | null = null): Actor => ({ kind: "system", userId: null, tokenId: null, ip: null, requestId });

export interface AuditEntry {
  /** `<thing>.<verb>`, e.g. `device.add`, `quota.set`, `host.drain`. */
  action: string;
  target?: { type: string; id: string };
  /** Whose account or thing it concerns when that is not the actor (an administrator's change); default: the actor. */
  subjectUserId?: string | null;
  /** Default `succeeded`; `pending` with `jobId` when a job does the work (its end is recorded by `auditedOutcome`). */
  outcome?: AuditOutcome;
  jobId?: string;
  detail?: Record<string, unknown>;
}

/**
 * Records one change in the audit log. Call it inside the transaction that makes the change, so
 * the log and the change commit together.
 */
export async function audit(tx: Db, actor: Actor, entry: AuditEntry): Promise<void> {
  await tx.insert(auditEvents).values({
    actorKind: actor.kind,
    actorUserId: actor.userId,
    actorTokenId: actor.tokenId,
    subjectUserId: entry.subjectUserId === undefined ? actor.userId : entry.subjectUserId,
    action: entry.action,
    targetType: entry.target?.type ?? null,
    targetId: entry.target?.id ?? null,
    outcome: entry.outcome ?? "succeeded",
    ip: actor.ip,
    requestId: actor.requestId,
    jobId: entry.jobId ?? null,
    detail: entry.detail ?? null,
  });
}

/** The job's end as an event of its own, with the cause and target of the `pending` event that submitted it. */
async function auditJobEnd(tx: Db, job: Job): Promise<void> {
  const [asked] = await tx
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.jobId, job.id), eq(auditEvents.outcome, "pending")))
    .limit(1);
  if (!asked) return;
  const { id: _id, at: _at, ...cause } = asked;
  const error = job.status === "failed" && job.error ? { error: job.error } : {};
  await tx.insert(auditEvents).values({ ...cause, outcome: job.status === "succeeded" ? "succeeded" : "failed", detail: { ...cause.detail, ...error } });
}

/**
 * A capability's job outcome handler that also records the job's end in the audit log, in the
 * transaction that stores the outcome (functions/job-outcomes.ts wraps each one). Jobs nobody asked
 * for (userId null: status reads, sweeps) are not looked up.
 */
export const auditedOutcome =
  (handler: OutcomeHandler): OutcomeHandler =>
  async (tx, job) => {
    const next = await handler(tx, job);
    if (job.userId !== null) await auditJobEnd(tx, job);
    return next;
  };

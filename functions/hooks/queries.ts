import { and, count, desc, eq, gt, isNull, lt, notInArray, sql } from "drizzle-orm";
import type { Db } from "../../shared/db";
import { hookDeliveries, hookRuns, hooks, type Hook, type HookRun, type HookRunStatus } from "../../shared/db/schema";

/** Runs listed, and kept beyond a day. */
export const RUNS_LISTED = 50;

export async function hookById(db: Db, id: string): Promise<Hook | undefined> {
  const [row] = await db.select().from(hooks).where(eq(hooks.id, id));
  return row;
}

export async function hookOfUser(db: Db, userId: string, id: string): Promise<Hook | undefined> {
  const [row] = await db.select().from(hooks).where(and(eq(hooks.userId, userId), eq(hooks.id, id)));
  return row;
}

export function hooksOfUser(db: Db, userId: string): Promise<Hook[]> {
  return db.select().from(hooks).where(eq(hooks.userId, userId)).orderBy(hooks.createdAt, hooks.name);
}

export async function countHooks(db: Db, userId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(hooks).where(eq(hooks.userId, userId));
  return row?.n ?? 0;
}

export async function insertHook(db: Db, values: typeof hooks.$inferInsert): Promise<Hook> {
  const [row] = await db.insert(hooks).values(values).returning();
  return row!;
}

export async function deleteHook(db: Db, userId: string, id: string): Promise<boolean> {
  const rows = await db.delete(hooks).where(and(eq(hooks.userId, userId), eq(hooks.id, id))).returning({ id: hooks.id });
  return rows.length > 0;
}

/**
 * Serializes what decides a hook's runs (a delivery, the end of a run) until the transaction ends,
 * so a run queued behind one that is ending is always seen and started. False: the hook is gone.
 */
export async function lockHook(tx: Db, id: string): Promise<boolean> {
  const rows = await tx.select({ id: hooks.id }).from(hooks).where(eq(hooks.id, id)).for("no key update");
  return rows.length > 0;
}

export function runsOfHook(db: Db, hookId: string, limit = RUNS_LISTED): Promise<HookRun[]> {
  return db.select().from(hookRuns).where(eq(hookRuns.hookId, hookId)).orderBy(desc(hookRuns.createdAt)).limit(limit);
}

export async function runOfHook(db: Db, hookId: string, status: HookRunStatus): Promise<HookRun | undefined> {
  const [row] = await db.select().from(hookRuns).where(and(eq(hookRuns.hookId, hookId), eq(hookRuns.status, status)));
  return row;
}

export async function runOfJob(db: Db, jobId: string): Promise<HookRun | undefined> {
  const [row] = await db.select().from(hookRuns).where(eq(hookRuns.jobId, jobId));
  return row;
}

export async function insertRun(db: Db, values: typeof hookRuns.$inferInsert): Promise<HookRun> {
  const [row] = await db.insert(hookRuns).values(values).returning();
  return row!;
}

export async function updateRun(db: Db, id: string, values: Partial<typeof hookRuns.$inferInsert>): Promise<HookRun> {
  const [row] = await db.update(hookRuns).set(values).where(eq(hookRuns.id, id)).returning();
  return row!;
}

/** Runs the hook started in the last hour, and when the oldest of them did. */
export async function runsInLastHour(db: Db, hookId: string): Promise<{ n: number; oldest: Date | null }> {
  const [row] = await db
    .select({ n: count(), oldest: sql<string | null>`min(${hookRuns.createdAt})` })
    .from(hookRuns)
    .where(and(eq(hookRuns.hookId, hookId), gt(hookRuns.createdAt, sql`now() - interval '1 hour'`)));
  return { n: row?.n ?? 0, oldest: row?.oldest ? new Date(row.oldest) : null };
}

/**
 * Claims a delivery id for the hook. Undefined: a delivery with that id came within the last day
 * (the primary key says so, whoever asks at the same time), and this one is a replay.
 */
export async function claimDelivery(db: Db, hookId: string, deliveryId: string): Promise<boolean> {
  const rows = await db.insert(hookDeliveries).values({ hookId, deliveryId }).onConflictDoNothing().returning({ hookId: hookDeliveries.hookId });
  return rows.length > 0;
}

export async function setDeliveryRun(db: Db, hookId: string, deliveryId: string, runId: string): Promise<void> {
  await db.update(hookDeliveries).set({ runId }).where(and(eq(hookDeliveries.hookId, hookId), eq(hookDeliveries.deliveryId, deliveryId)));
}

/** The run an earlier delivery with this id started or joined. */
export async function runOfDelivery(db: Db, hookId: string, deliveryId: string): Promise<HookRun | undefined> {
  const [row] = await db
    .select({ run: hookRuns })
    .from(hookDeliveries)
    .innerJoin(hookRuns, eq(hookRuns.id, hookDeliveries.runId))
    .where(and(eq(hookDeliveries.hookId, hookId), eq(hookDeliveries.deliveryId, deliveryId)));
  return row?.run;
}

/** Forgets the hook's delivery ids older than a day, and its finished runs of before then beyond the newest RUNS_LISTED. */
export async function pruneHook(db: Db, hookId: string): Promise<void> {
  const dayAgo = sql`now() - interval '24 hours'`;
  await db.delete(hookDeliveries).where(and(eq(hookDeliveries.hookId, hookId), lt(hookDeliveries.receivedAt, dayAgo)));
  const newest = db.select({ id: hookRuns.id }).from(hookRuns).where(eq(hookRuns.hookId, hookId)).orderBy(desc(hookRuns.createdAt)).limit(RUNS_LISTED);
  await db
    .delete(hookRuns)
    .where(
      and(
        eq(hookRuns.hookId, hookId),
        lt(hookRuns.createdAt, dayAgo),
        notInArray(hookRuns.status, ["queued", "running"]),
        notInArray(hookRuns.id, newest),
      ),
    );
}

/** A run whose job is gone (its host was removed with its jobs) ends, so it does not hold the hook forever. */
export async function endOrphanedRun(db: Db, hookId: string): Promise<void> {
  await db
    .update(hookRuns)
    .set({ status: "failed", error: "its job is gone: the instance's host was removed", finishedAt: new Date() })
    .where(and(eq(hookRuns.hookId, hookId), eq(hookRuns.status, "running"), isNull(hookRuns.jobId)));
}

import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../../shared/db";
import { quotaOverrides } from "../../shared/db/schema";
import type { QuotaKey } from "./limits";

/** The person's override rows, by key as stored. */
export async function overrideRows(db: Db, userId: string): Promise<Record<string, number>> {
  const rows = await db.select({ key: quotaOverrides.key, value: quotaOverrides.value }).from(quotaOverrides).where(eq(quotaOverrides.userId, userId));
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}

export async function upsertOverrides(db: Db, userId: string, values: [QuotaKey, number][]): Promise<void> {
  if (values.length === 0) return;
  await db
    .insert(quotaOverrides)
    .values(values.map(([key, value]) => ({ userId, key, value })))
    .onConflictDoUpdate({ target: [quotaOverrides.userId, quotaOverrides.key], set: { value: sql`excluded.value`, updatedAt: new Date() } });
}

export async function deleteOverrides(db: Db, userId: string, keys: QuotaKey[]): Promise<void> {
  if (keys.length === 0) return;
  await db.delete(quotaOverrides).where(and(eq(quotaOverrides.userId, userId), inArray(quotaOverrides.key, keys)));
}

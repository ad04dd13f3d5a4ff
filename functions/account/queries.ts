import { and, count, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../../shared/db";
import { apiTokens, devices, instances, pgDatabases, pgUsers, users } from "../../shared/db/schema";

const nextGeneration = sql`${users.sessionGeneration} + 1`;

/**
 * Raises the person's session generation, which ends every session they have (functions/auth/sessions.ts);
 * with `changes`, in the same statement. `expected`: only if the generation is still that one.
 * The new generation, or undefined when no row matched.
 */
export async function newSessionGeneration(
  db: Db,
  userId: string,
  changes: { passwordHash?: string } = {},
  expected?: number,
): Promise<number | undefined> {
  const [row] = await db
    .update(users)
    .set({ ...changes, sessionGeneration: nextGeneration, updatedAt: new Date() })
    .where(and(eq(users.id, userId), expected === undefined ? undefined : eq(users.sessionGeneration, expected)))
    .returning({ generation: users.sessionGeneration });
  return row?.generation;
}

/** Moves the account to `to` if its address is still `from`; whether it did. */
export async function changeEmail(db: Db, userId: string, from: string, to: string): Promise<boolean> {
  const rows = await db
    .update(users)
    .set({ email: to, updatedAt: new Date() })
    .where(and(eq(users.id, userId), eq(users.email, from)))
    .returning({ id: users.id });
  return rows.length > 0;
}

export async function revokeAllApiTokens(db: Db, userId: string, now = new Date()): Promise<void> {
  await db.update(apiTokens).set({ revokedAt: now }).where(and(eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt)));
}

/** How many of the person's resources still have rows; the account row may go only at zero. */
export async function remainingResources(db: Db, userId: string): Promise<number> {
  let total = 0;
  for (const table of [instances, devices, pgUsers, pgDatabases]) {
    const [row] = await db.select({ n: count() }).from(table).where(eq(table.userId, userId));
    total += row?.n ?? 0;
  }
  return total;
}

/** Locks the account row against every create (they take lockUser) until the transaction ends; whether it exists. */
export async function lockAccountForDeletion(db: Db, userId: string): Promise<boolean> {
  const rows = await db.select({ id: users.id }).from(users).where(eq(users.id, userId)).for("update");
  return rows.length > 0;
}

/** The account row; its API tokens go with it (foreign key cascade), its jobs keep no user. */
export async function deleteAccountRow(db: Db, userId: string): Promise<void> {
  await db.delete(users).where(eq(users.id, userId));
}

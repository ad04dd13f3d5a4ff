import { and, eq, isNull, lt, not, or, sql } from "drizzle-orm";
import type { Database } from "../../shared/db";
import { users, type User } from "../../shared/db/schema";
import { type Actor, audit } from "../audit/record";

/**
 * Rows a new registration may replace: the unverified account holding its e-mail address (whoever
 * registered it cannot have proved the address), and an unverified account holding its username
 * that is past its lifetime (the sweep would delete it anyway).
 */
function replaceable(email: string, username: string, staleBefore: Date) {
  return and(
    isNull(users.verifiedAt),
    or(eq(users.email, email), and(sql`lower(${users.username}) = ${username.toLowerCase()}`, lt(users.createdAt, staleBefore))),
  );
}

export async function takenFields(db: Database, email: string, username: string, staleBefore: Date) {
  const rows = await db
    .select({ email: users.email, username: users.username })
    .from(users)
    .where(
      and(
        or(eq(users.email, email), sql`lower(${users.username}) = ${username.toLowerCase()}`),
        not(replaceable(email, username, staleBefore)!),
      ),
    );
  return {
    email: rows.some((r) => r.email === email),
    username: rows.some((r) => r.username.toLowerCase() === username.toLowerCase()),
  };
}

/**
 * Inserts the account, deleting in the same transaction the unverified ones it replaces (their
 * links then answer 410); a unique violation rolls the deletion back.
 */
export async function insertUser(
  db: Database,
  values: Pick<User, "email" | "username" | "passwordHash" | "firstName" | "lastName">,
  staleBefore: Date,
  actor: Actor,
): Promise<{ user: User; replaced: string[] }> {
  return db.transaction(async (tx) => {
    const replaced = await tx.delete(users).where(replaceable(values.email, values.username, staleBefore)).returning({ id: users.id });
    const [row] = await tx.insert(users).values(values).returning();
    await audit(tx, actor, { action: "account.register", target: { type: "account", id: row!.id }, subjectUserId: row!.id, detail: { email: values.email, replaced: replaced.length } });
    return { user: row!, replaced: replaced.map((r) => r.id) };
  });
}

export async function markVerified(db: Database, userId: string, actor: Actor, now = new Date()): Promise<void> {
  await db.transaction(async (tx) => {
    const rows = await tx
      .update(users)
      .set({ verifiedAt: now, updatedAt: now })
      .where(and(eq(users.id, userId), isNull(users.verifiedAt)))
      .returning({ id: users.id });
    if (rows.length > 0) await audit(tx, actor, { action: "account.verify", target: { type: "account", id: userId }, subjectUserId: userId });
  });
}

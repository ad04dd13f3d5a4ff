import { and, eq, isNull, sql } from "drizzle-orm";
import type { Database } from "../../shared/db";
import { users, type User } from "../../shared/db/schema";

export async function takenFields(db: Database, email: string, username: string) {
  const rows = await db
    .select({ email: users.email, username: users.username })
    .from(users)
    .where(sql`${users.email} = ${email} or lower(${users.username}) = ${username.toLowerCase()}`);
  return {
    email: rows.some((r) => r.email === email),
    username: rows.some((r) => r.username.toLowerCase() === username.toLowerCase()),
  };
}

export async function insertUser(
  db: Database,
  values: Pick<User, "email" | "username" | "passwordHash" | "firstName" | "lastName">,
): Promise<User> {
  const [row] = await db.insert(users).values(values).returning();
  return row!;
}

export async function markVerified(db: Database, userId: string, now = new Date()): Promise<void> {
  await db
    .update(users)
    .set({ verifiedAt: now, updatedAt: now })
    .where(and(eq(users.id, userId), isNull(users.verifiedAt)));
}

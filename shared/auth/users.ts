import { eq, sql } from "drizzle-orm";
import type { Database } from "../db";
import { users, type User } from "../db/schema";

export async function findUserById(db: Database, id: string): Promise<User | undefined> {
  const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  return row;
}

/** `login` is a username (any case) or an e-mail address. */
export async function findUserByLogin(db: Database, login: string): Promise<User | undefined> {
  const value = login.trim().toLowerCase();
  const where = value.includes("@") ? eq(users.email, value) : sql`lower(${users.username}) = ${value}`;
  const [row] = await db.select().from(users).where(where).limit(1);
  return row;
}

export function isAdmin(user: Pick<User, "email">, admins: readonly string[]): boolean {
  return admins.includes(user.email.toLowerCase());
}

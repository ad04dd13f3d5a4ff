import { eq, sql } from "drizzle-orm";
import type { Database } from "../../shared/db";
import { perDatabase } from "../../shared/db/per-database";
import { users, type User } from "../../shared/db/schema";

const byId = perDatabase((db) => db.select().from(users).where(eq(users.id, sql.placeholder("id"))).limit(1).prepare("user_by_id"));
const byEmail = perDatabase((db) => db.select().from(users).where(eq(users.email, sql.placeholder("value"))).limit(1).prepare("user_by_email"));
const byUsername = perDatabase((db) =>
  db.select().from(users).where(sql`lower(${users.username}) = ${sql.placeholder("value")}`).limit(1).prepare("user_by_username"),
);

export async function findUserById(db: Database, id: string): Promise<User | undefined> {
  const [row] = await byId(db).execute({ id });
  return row;
}

/** `login` is a username (any case) or an e-mail address. */
export async function findUserByLogin(db: Database, login: string): Promise<User | undefined> {
  const value = login.trim().toLowerCase();
  const [row] = await (value.includes("@") ? byEmail : byUsername)(db).execute({ value });
  return row;
}

/** Listed in KWS_ADMINS and verified: whoever registered an address without proving it is no admin. */
export function isAdmin(user: Pick<User, "email" | "verifiedAt">, admins: readonly string[]): boolean {
  return user.verifiedAt !== null && admins.includes(user.email.toLowerCase());
}

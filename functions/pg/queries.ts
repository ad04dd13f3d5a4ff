import { asc, count, eq } from "drizzle-orm";
import type { Db } from "../../shared/db";
import { pgDatabases, pgUsers, type PgDatabaseRow, type PgUserRow } from "../../shared/db/schema";

export async function findPgUser(db: Db, name: string): Promise<PgUserRow | undefined> {
  const [row] = await db.select().from(pgUsers).where(eq(pgUsers.name, name));
  return row;
}

/** How many rows of `table` the person has: the limits count database users and databases alike. */
async function countOwned(db: Db, table: typeof pgUsers | typeof pgDatabases, userId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(table).where(eq(table.userId, userId));
  return row?.n ?? 0;
}

export const countPgUsers = (db: Db, userId: string) => countOwned(db, pgUsers, userId);

/**
 * Insert, change and delete by id: what the service does to the rows of both tables. Drizzle's
 * builders do not take a union of tables, so the calls name one of them; the callers' values stay
 * typed by their own table.
 */
function rows<T extends typeof pgUsers | typeof pgDatabases>(table: T) {
  return {
    async insert(db: Db, values: T["$inferInsert"]): Promise<T["$inferSelect"]> {
      const [row] = await db.insert(table as typeof pgUsers).values(values as typeof pgUsers.$inferInsert).returning();
      return row as T["$inferSelect"];
    },
    async set(db: Db, id: string, values: Partial<T["$inferInsert"]>): Promise<void> {
      await db.update(table as typeof pgUsers).set(values as Partial<typeof pgUsers.$inferInsert>).where(eq(table.id, id));
    },
    async remove(db: Db, id: string): Promise<void> {
      await db.delete(table).where(eq(table.id, id));
    },
  };
}

const userRows = rows(pgUsers);
const databaseRows = rows(pgDatabases);

export const insertPgUser = (db: Db, values: Pick<PgUserRow, "userId" | "name" | "passwordEncrypted">): Promise<PgUserRow> => userRows.insert(db, values);
export const setPgUserPassword = (db: Db, id: string, passwordEncrypted: string) => userRows.set(db, id, { passwordEncrypted });

/** The pg user's row and (by cascade) its databases' rows. */
export async function deletePgUserRow(db: Db, id: string): Promise<void> {
  await db.delete(pgDatabases).where(eq(pgDatabases.pgUserId, id));
  await userRows.remove(db, id);
}

export interface PgUserListing {
  name: string;
  createdAt: Date;
  databases: string[];
}

export async function listPgUsers(db: Db, userId: string): Promise<PgUserListing[]> {
  const rows = await db
    .select({ name: pgUsers.name, createdAt: pgUsers.createdAt, database: pgDatabases.name })
    .from(pgUsers)
    .leftJoin(pgDatabases, eq(pgDatabases.pgUserId, pgUsers.id))
    .where(eq(pgUsers.userId, userId))
    .orderBy(asc(pgUsers.createdAt), asc(pgUsers.name), asc(pgDatabases.name));
  const byName = new Map<string, PgUserListing>();
  for (const r of rows) {
    const entry = byName.get(r.name) ?? { name: r.name, createdAt: r.createdAt, databases: [] };
    if (r.database) entry.databases.push(r.database);
    byName.set(r.name, entry);
  }
  return [...byName.values()];
}

export interface PgDatabaseListing {
  name: string;
  owner: string;
  createdAt: Date;
}

export function listPgDatabases(db: Db, userId: string): Promise<PgDatabaseListing[]> {
  return db
    .select({ name: pgDatabases.name, owner: pgUsers.name, createdAt: pgDatabases.createdAt })
    .from(pgDatabases)
    .innerJoin(pgUsers, eq(pgUsers.id, pgDatabases.pgUserId))
    .where(eq(pgDatabases.userId, userId))
    .orderBy(asc(pgDatabases.createdAt), asc(pgDatabases.name));
}

export async function findPgDatabase(db: Db, name: string): Promise<(PgDatabaseRow & { owner: string }) | undefined> {
  const [row] = await db
    .select({
      id: pgDatabases.id,
      userId: pgDatabases.userId,
      pgUserId: pgDatabases.pgUserId,
      name: pgDatabases.name,
      createdAt: pgDatabases.createdAt,
      owner: pgUsers.name,
    })
    .from(pgDatabases)
    .innerJoin(pgUsers, eq(pgUsers.id, pgDatabases.pgUserId))
    .where(eq(pgDatabases.name, name));
  return row;
}

export const countPgDatabases = (db: Db, userId: string) => countOwned(db, pgDatabases, userId);

export const insertPgDatabase = (db: Db, values: Pick<PgDatabaseRow, "userId" | "pgUserId" | "name">): Promise<PgDatabaseRow> => databaseRows.insert(db, values);
export const setPgDatabaseOwner = (db: Db, id: string, pgUserId: string) => databaseRows.set(db, id, { pgUserId });
export const deletePgDatabaseRow = (db: Db, id: string) => databaseRows.remove(db, id);

/** Rows of a pg user's databases (for repairs). */
export function pgUserDatabaseRows(db: Db, pgUserId: string): Promise<PgDatabaseRow[]> {
  return db.select().from(pgDatabases).where(eq(pgDatabases.pgUserId, pgUserId));
}

/** Every row, for the drift check. */
export async function allRows(db: Db) {
  const usersRows = await db.select({ name: pgUsers.name, userId: pgUsers.userId }).from(pgUsers).orderBy(asc(pgUsers.name));
  const dbRows = await db
    .select({ name: pgDatabases.name, userId: pgDatabases.userId, owner: pgUsers.name })
    .from(pgDatabases)
    .innerJoin(pgUsers, eq(pgUsers.id, pgDatabases.pgUserId))
    .orderBy(asc(pgDatabases.name));
  return { users: usersRows, databases: dbRows };
}


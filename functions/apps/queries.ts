import { and, asc, count, eq } from "drizzle-orm";
import type { Db } from "../../shared/db";
import { apps, type App } from "../../shared/db/schema";

export function appsOfUser(db: Db, userId: string): Promise<App[]> {
  return db.select().from(apps).where(eq(apps.userId, userId)).orderBy(asc(apps.createdAt), asc(apps.name));
}

export async function countApps(db: Db, userId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(apps).where(eq(apps.userId, userId));
  return row?.n ?? 0;
}

export async function insertApp(db: Db, values: typeof apps.$inferInsert): Promise<App> {
  const [row] = await db.insert(apps).values(values).returning();
  return row!;
}

/** Changes the person's own app; undefined when they have none of that name. */
export async function updateApp(db: Db, userId: string, name: string, values: Pick<Partial<App>, "port" | "access">): Promise<App | undefined> {
  const [row] = await db
    .update(apps)
    .set({ ...values, updatedAt: new Date() })
    .where(and(eq(apps.userId, userId), eq(apps.name, name)))
    .returning();
  return row;
}

/** Removes the person's own app: the removed row, or undefined when they have none of that name. */
export async function deleteApp(db: Db, userId: string, name: string): Promise<App | undefined> {
  const [row] = await db.delete(apps).where(and(eq(apps.userId, userId), eq(apps.name, name))).returning();
  return row;
}

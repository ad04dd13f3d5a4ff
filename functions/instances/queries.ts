import { eq } from "drizzle-orm";
import type { Db } from "../../shared/db";
import { instances, users, type Instance } from "../../shared/db/schema";

export async function instanceOfUser(db: Db, userId: string, lock = false): Promise<Instance | undefined> {
  const query = db.select().from(instances).where(eq(instances.userId, userId));
  const [row] = lock ? await query.for("update") : await query;
  return row;
}

export async function insertInstance(db: Db, values: typeof instances.$inferInsert): Promise<Instance> {
  const [row] = await db.insert(instances).values(values).returning();
  return row!;
}

export async function updateInstance(db: Db, id: string, values: Partial<typeof instances.$inferInsert>): Promise<void> {
  await db.update(instances).set({ ...values, updatedAt: new Date() }).where(eq(instances.id, id));
}

/** The person's account name (the readable part of their instance's label). */
export async function accountName(db: Db, userId: string): Promise<string> {
  const [row] = await db.select({ username: users.username }).from(users).where(eq(users.id, userId));
  return row?.username ?? "";
}

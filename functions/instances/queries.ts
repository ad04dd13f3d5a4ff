import { eq } from "drizzle-orm";
import type { Db } from "../../shared/db/locks";
import { hosts, instances, jobs, type Host, type Instance, type Job } from "../../shared/db/schema";

export async function instanceOfUser(db: Db, userId: string, lock = false): Promise<Instance | undefined> {
  const query = db.select().from(instances).where(eq(instances.userId, userId));
  const [row] = lock ? await query.for("update") : await query;
  return row;
}

export async function jobById(db: Db, id: string): Promise<Job | undefined> {
  const [row] = await db.select().from(jobs).where(eq(jobs.id, id));
  return row;
}

export async function hostById(db: Db, id: string): Promise<Host | undefined> {
  const [row] = await db.select().from(hosts).where(eq(hosts.id, id));
  return row;
}

export async function insertInstance(db: Db, values: typeof instances.$inferInsert): Promise<Instance> {
  const [row] = await db.insert(instances).values(values).returning();
  return row!;
}

export async function updateInstance(db: Db, id: string, values: Partial<typeof instances.$inferInsert>): Promise<void> {
  await db.update(instances).set({ ...values, updatedAt: new Date() }).where(eq(instances.id, id));
}

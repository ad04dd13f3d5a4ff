import { count, eq, sql } from "drizzle-orm";
import type { Db } from "../../shared/db/locks";
import { hosts, instances, jobs, users, type Host, type Instance, type Job } from "../../shared/db/schema";

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

export async function homeHostOf(db: Db, userId: string): Promise<string | null> {
  const [row] = await db.select({ homeHostId: users.homeHostId }).from(users).where(eq(users.id, userId));
  return row?.homeHostId ?? null;
}

export async function setHomeHost(db: Db, userId: string, hostId: string): Promise<void> {
  await db.update(users).set({ homeHostId: hostId }).where(eq(users.id, userId));
}

export interface HostLoad {
  instances: number;
  memoryMB: number;
}

/** Per host: how many instances it holds and the sum of their memory limits. */
export async function hostLoads(db: Db): Promise<Map<string, HostLoad>> {
  const rows = await db
    .select({ hostId: instances.hostId, n: count(), memoryMB: sql<string>`coalesce(sum(${instances.memoryMB}), 0)` })
    .from(instances)
    .groupBy(instances.hostId);
  return new Map(rows.map((r) => [r.hostId, { instances: r.n, memoryMB: Number(r.memoryMB) }]));
}

export async function insertInstance(db: Db, values: typeof instances.$inferInsert): Promise<Instance> {
  const [row] = await db.insert(instances).values(values).returning();
  return row!;
}

export async function updateInstance(db: Db, id: string, values: Partial<typeof instances.$inferInsert>): Promise<void> {
  await db.update(instances).set({ ...values, updatedAt: new Date() }).where(eq(instances.id, id));
}

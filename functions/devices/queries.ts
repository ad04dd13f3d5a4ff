import { and, asc, count, eq, gt } from "drizzle-orm";
import type { Db } from "../../shared/db";
import { devices, instances, jobs, type Device, type Job } from "../../shared/db/schema";

export function devicesOfUser(db: Db, userId: string): Promise<Device[]> {
  return db.select().from(devices).where(eq(devices.userId, userId)).orderBy(asc(devices.createdAt));
}

export async function deviceOfUser(db: Db, userId: string, id: string, lock = false): Promise<Device | undefined> {
  const query = db.select().from(devices).where(and(eq(devices.id, id), eq(devices.userId, userId)));
  const [row] = lock ? await query.for("update") : await query;
  return row;
}

export async function countDevices(db: Db, userId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(devices).where(eq(devices.userId, userId));
  return row?.n ?? 0;
}

export async function publicKeyTaken(db: Db, publicKey: string): Promise<boolean> {
  const rows = await db.select({ id: devices.id }).from(devices).where(eq(devices.publicKey, publicKey)).limit(1);
  return rows.length > 0;
}

/** The address of the person's container on that host, which their devices may reach. */
export async function ownerAddress(db: Db, userId: string, hostId: string): Promise<string | null> {
  const [row] = await db
    .select({ ipv4: instances.ipv4 })
    .from(instances)
    .where(and(eq(instances.userId, userId), eq(instances.hostId, hostId)));
  return row?.ipv4 ?? null;
}

export async function insertDevice(db: Db, values: typeof devices.$inferInsert): Promise<Device> {
  const [row] = await db.insert(devices).values(values).returning();
  return row!;
}

export async function setDeviceJob(db: Db, id: string, jobId: string, state: Device["state"]): Promise<void> {
  await db.update(devices).set({ jobId, state, updatedAt: new Date() }).where(eq(devices.id, id));
}

/** The host's latest wg.status job created after `since`, if any. */
export async function recentStatusJob(db: Db, hostId: string, since: Date): Promise<Job | undefined> {
  const [row] = await db
    .select()
    .from(jobs)
    .where(and(eq(jobs.hostId, hostId), eq(jobs.kind, "wg.status"), gt(jobs.createdAt, since)))
    .orderBy(asc(jobs.createdAt))
    .limit(1);
  return row;
}

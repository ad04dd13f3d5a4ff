import { and, desc, eq, ilike, isNotNull, isNull, or, type SQL } from "drizzle-orm";
import type { Db } from "../../shared/db";
import { hosts, instances, jobs, users, type Host, type Instance, type Job, type User } from "../../shared/db/schema";

export interface PersonRow {
  user: User;
  instance: Pick<Instance, "name" | "state"> | null;
}

/** People matching `where` with their instance, newest first. */
async function people(db: Db, where: SQL | undefined, limit: number): Promise<PersonRow[]> {
  const rows = await db
    .select({ user: users, instanceName: instances.name, instanceState: instances.state })
    .from(users)
    .leftJoin(instances, eq(instances.userId, users.id))
    .where(where)
    .orderBy(desc(users.createdAt))
    .limit(limit);
  return rows.map((r) => ({ user: r.user, instance: r.instanceName && r.instanceState ? { name: r.instanceName, state: r.instanceState } : null }));
}

/** People whose e-mail address or username contains `q` (all when empty). */
export function searchPeople(db: Db, q: string, limit = 50): Promise<PersonRow[]> {
  const pattern = `%${q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
  return people(db, q ? or(ilike(users.email, pattern), ilike(users.username, pattern)) : undefined, limit);
}

export async function personById(db: Db, userId: string): Promise<PersonRow | undefined> {
  return (await people(db, eq(users.id, userId), 1))[0];
}

/** Marks the account suspended (or not); the row, or undefined when there is none or nothing changed. */
export async function setSuspended(db: Db, userId: string, suspended: boolean): Promise<User | undefined> {
  const [row] = await db
    .update(users)
    .set({ suspendedAt: suspended ? new Date() : null, updatedAt: new Date() })
    .where(and(eq(users.id, userId), suspended ? isNull(users.suspendedAt) : isNotNull(users.suspendedAt)))
    .returning();
  return row;
}

export interface FailedJobRow {
  job: Job;
  hostName: string;
  username: string | null;
}

/** Failed jobs, the latest first, with their host and who asked. */
export async function failedJobs(db: Db, limit = 100): Promise<FailedJobRow[]> {
  return db
    .select({ job: jobs, hostName: hosts.name, username: users.username })
    .from(jobs)
    .innerJoin(hosts, eq(hosts.id, jobs.hostId))
    .leftJoin(users, eq(users.id, jobs.userId))
    .where(eq(jobs.status, "failed"))
    .orderBy(desc(jobs.finishedAt))
    .limit(limit);
}

export interface HostInstanceRow {
  hostId: Host["id"];
  name: string;
  state: Instance["state"];
  username: string;
}

/** Every instance with its owner's username, for the hosts page. */
export function instancesByHost(db: Db): Promise<HostInstanceRow[]> {
  return db
    .select({ hostId: instances.hostId, name: instances.name, state: instances.state, username: users.username })
    .from(instances)
    .innerJoin(users, eq(users.id, instances.userId))
    .orderBy(instances.name);
}

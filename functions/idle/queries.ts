import { and, eq, inArray, isNotNull, isNull, or, sql } from "drizzle-orm";
import type { Db } from "../../shared/db";
import { instanceActivity, instances, jobs, type Instance, type InstanceActivity } from "../../shared/db/schema";
import type { InstanceActivityReport } from "../../shared/protocol/messages";

/**
 * Stores one agent report for the host's instances it names, in one statement. Ages become times
 * on the database's clock; the last time of each kind only moves forward; open counts are the
 * report's. Names of other hosts' (or no) instances are ignored.
 */
export async function recordActivity(db: Db, hostId: string, reports: readonly InstanceActivityReport[]): Promise<void> {
  if (reports.length === 0) return;
  const rows = JSON.stringify(
    reports.map((r) => ({ name: r.name, ide_ms: r.ideIdleMs, ssh: r.sshSessions, open: r.streamsOpen, streams_ms: r.streamsIdleMs })),
  );
  await db.execute(sql`
    insert into instance_activity as a (instance_id, ide_at, ssh_at, ssh_sessions, streams_at, streams_open, reported_at)
    select i.id,
      now() - r.ide_ms * interval '1 millisecond',
      case when r.ssh > 0 then now() end,
      r.ssh,
      now() - r.streams_ms * interval '1 millisecond',
      r.open,
      now()
    from jsonb_to_recordset(${rows}::jsonb) as r(name text, ide_ms double precision, ssh int, open int, streams_ms double precision)
    join instances i on i.name = r.name and i.host_id = ${hostId}
    on conflict (instance_id) do update set
      ide_at = greatest(a.ide_at, excluded.ide_at),
      ssh_at = greatest(a.ssh_at, excluded.ssh_at),
      ssh_sessions = excluded.ssh_sessions,
      streams_at = greatest(a.streams_at, excluded.streams_at),
      streams_open = excluded.streams_open,
      reported_at = excluded.reported_at`);
}

/** Requests through the ingress: the instance and how long ago its latest one came (ms). */
export async function recordIngress(db: Db, seen: readonly { instanceId: string; ageMs: number }[]): Promise<void> {
  if (seen.length === 0) return;
  const rows = JSON.stringify(seen.map((s) => ({ id: s.instanceId, age_ms: s.ageMs })));
  // Joined with instances: one killed meanwhile has no row to point at.
  await db.execute(sql`
    insert into instance_activity as a (instance_id, ingress_at)
    select i.id, now() - r.age_ms * interval '1 millisecond'
    from jsonb_to_recordset(${rows}::jsonb) as r(id uuid, age_ms double precision)
    join instances i on i.id = r.id
    on conflict (instance_id) do update set ingress_at = greatest(a.ingress_at, excluded.ingress_at)`);
}

export async function activityOf(db: Db, instanceId: string): Promise<InstanceActivity | undefined> {
  const [row] = await db.select().from(instanceActivity).where(eq(instanceActivity.instanceId, instanceId));
  return row;
}

export interface IdleCandidate {
  instance: Instance;
  activity: InstanceActivity;
  /** When it became running: the end of its latest job (a start or deploy), else its row's last change. */
  since: Date;
  /** The database's clock, which also stamped the activity. */
  now: Date;
}

const candidates = (db: Db) =>
  db
    .select({
      instance: instances,
      activity: instanceActivity,
      since: sql<Date>`coalesce(${jobs.finishedAt}, ${instances.updatedAt})`.mapWith(instances.updatedAt),
      now: sql<Date>`now()`.mapWith(instances.updatedAt),
    })
    .from(instances)
    .innerJoin(instanceActivity, eq(instanceActivity.instanceId, instances.id))
    .leftJoin(jobs, eq(jobs.id, instances.jobId));

// Running, no job of its own open, and reported on by its agent at least once.
const stoppable = and(eq(instances.state, "running"), or(isNull(jobs.id), inArray(jobs.status, ["succeeded", "failed"])), isNotNull(instanceActivity.reportedAt));

/** Every running instance its agent reports on, with what the idle rule needs. */
export function runningInstances(db: Db): Promise<IdleCandidate[]> {
  return candidates(db).where(stoppable);
}

/**
 * The instance as runningInstances has it, its row locked for the transaction; undefined when it
 * is no longer stoppable or another transaction (another control plane's checker, a person's
 * request) holds it: that one decides.
 */
export async function lockRunning(tx: Db, instanceId: string): Promise<IdleCandidate | undefined> {
  const [row] = await candidates(tx)
    .where(and(eq(instances.id, instanceId), stoppable))
    .for("update", { of: instances, skipLocked: true });
  return row;
}

/** A person's choice, stored as is (functions/idle/rules.ts storedChoice). */
export async function setIdleStop(db: Db, instanceId: string, stored: number | null): Promise<void> {
  await db.update(instances).set({ idleStopMinutes: stored }).where(eq(instances.id, instanceId));
}

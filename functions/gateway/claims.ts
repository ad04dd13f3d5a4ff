import { and, eq, getTableColumns, gte, sql } from "drizzle-orm";
import type { Database } from "../../shared/db";
import { perDatabase } from "../../shared/db/per-database";
import { hosts, jobs, type Job } from "../../shared/db/schema";
import { JOB_MAX_ATTEMPTS } from "../core/jobs/notices";

/**
 * The open jobs of a host not yet sent to this connection of it (queued, or sent to an earlier
 * connection that is gone: a dead gateway's, a dropped agent's), oldest first, become running with
 * one more attempt, sent to this connection. Only the connection that holds the host claims, so a
 * replaced one finds nothing; SKIP LOCKED keeps two claims of a job apart.
 */
const claim = perDatabase((db) =>
  db
    .update(jobs)
    .set({
      status: "running",
      attempts: sql`${jobs.attempts} + 1`,
      connectionId: sql`${sql.placeholder("connectionId")}`,
      startedAt: sql`coalesce(${jobs.startedAt}, now())`,
      updatedAt: sql`now()`,
    })
    .where(
      sql`${jobs.id} in (
        select j.id from ${jobs} j join ${hosts} h on h.id = j.host_id
        where j.host_id = ${sql.placeholder("hostId")} and h.connection_id = ${sql.placeholder("connectionId")}
          and j.status in ('queued', 'running') and j.connection_id is distinct from ${sql.placeholder("connectionId")}
        order by j.created_at
        limit ${sql.placeholder("limit")}
        for update of j skip locked)`,
    )
    .returning(getTableColumns(jobs))
    .prepare("jobs_claim"),
);

export async function claimJobs(db: Database, hostId: string, connectionId: string, limit: number): Promise<Job[]> {
  const rows = await claim(db).execute({ hostId, connectionId, limit });
  return rows.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
}

/** Hosts this gateway holds that have jobs to claim: what notices would have said, had none been lost. */
export async function hostsWithWork(db: Database, gatewayId: string): Promise<string[]> {
  const rows = await db
    .selectDistinct({ hostId: jobs.hostId })
    .from(jobs)
    .innerJoin(hosts, eq(hosts.id, jobs.hostId))
    .where(
      and(
        eq(hosts.gatewayId, gatewayId),
        sql`${jobs.status} in ('queued', 'running')`,
        sql`${jobs.connectionId} is distinct from ${hosts.connectionId}`,
      ),
    );
  return rows.map((r) => r.hostId);
}

/** Running jobs whose last allowed attempt went to this connection, now that it has ended without their result. */
export function exhaustedOn(db: Database, connectionId: string): Promise<Job[]> {
  return db
    .select()
    .from(jobs)
    .where(and(eq(jobs.connectionId, connectionId), eq(jobs.status, "running"), gte(jobs.attempts, JOB_MAX_ATTEMPTS)));
}

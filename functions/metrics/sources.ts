import { count, eq, inArray } from "drizzle-orm";
import type { Database } from "../../shared/db";
import { hosts, jobs } from "../../shared/db/schema";
import { hostState, listHosts } from "../hosts/store";
import { OPEN_STATUSES } from "../core/jobs/store";
import type { MetricSources } from "./registry";

/** The figures of /metrics that PostgreSQL holds: open jobs per host (queue depth) and hosts by state. */
export function databaseSources(db: Database, heartbeatMs: number): MetricSources {
  return {
    openJobs: async () => {
      const rows = await db
        .select({ host: hosts.name, status: jobs.status, count: count() })
        .from(jobs)
        .innerJoin(hosts, eq(hosts.id, jobs.hostId))
        .where(inArray(jobs.status, [...OPEN_STATUSES]))
        .groupBy(hosts.name, jobs.status);
      return rows;
    },
    hosts: async () => {
      const byState = new Map<string, number>([
        ["online", 0],
        ["offline", 0],
        ["draining", 0],
      ]);
      for (const host of await listHosts(db)) {
        const state = hostState(host, heartbeatMs);
        byState.set(state, (byState.get(state) ?? 0) + 1);
      }
      return [...byState].map(([state, n]) => ({ state, count: n }));
    },
  };
}

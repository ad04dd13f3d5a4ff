import type { Database } from "../../shared/db";
import type { PgCluster } from "./cluster";
import { allRows } from "./queries";
import type { DriftEntry } from "./schemas";

/**
 * Roles and databases that exist on one side only, or on both sides but disagreeing: KWS's rows
 * against the cluster's KWS-marked roles (and the databases they own). The same list backs
 * `GET /api/v1/pg/drift` and `npm run ops -- pg drift`.
 */
export async function pgDrift(db: Database, cluster: PgCluster): Promise<DriftEntry[]> {
  const [rows, roles, databases] = await Promise.all([allRows(db), cluster.roles(), cluster.databases()]);
  const drift: DriftEntry[] = [];

  const rowUsers = new Map(rows.users.map((u) => [u.name, u]));
  const clusterRoles = new Map(roles.map((r) => [r.name, r]));
  // Roles named by rows that are not KWS-marked (or are gone) must be looked up one by one.
  for (const u of rows.users) {
    const role = clusterRoles.get(u.name) ?? (await cluster.role(u.name));
    if (!role) drift.push({ kind: "role", name: u.name, side: "kws", userId: u.userId, problem: "a row without a role on the cluster" });
    else if (role.ownerId !== u.userId || role.superuser) {
      drift.push({ kind: "role", name: u.name, side: "both", userId: u.userId, problem: `the cluster's role is not marked as this person's (${role.ownerId ? `marked for ${role.ownerId}` : "not KWS's"})` });
    }
  }
  for (const r of roles) {
    if (!rowUsers.has(r.name)) drift.push({ kind: "role", name: r.name, side: "cluster", userId: r.ownerId, problem: "a KWS role on the cluster without a row" });
  }

  const rowDatabases = new Map(rows.databases.map((d) => [d.name, d]));
  const clusterDatabases = new Map(databases.map((d) => [d.name, d]));
  for (const d of rows.databases) {
    const found = clusterDatabases.get(d.name) ?? (await cluster.database(d.name));
    if (!found) drift.push({ kind: "database", name: d.name, side: "kws", userId: d.userId, problem: "a row without a database on the cluster" });
    else if (found.owner !== d.owner || found.ownerId !== d.userId) {
      drift.push({ kind: "database", name: d.name, side: "both", userId: d.userId, problem: `owned by ${found.owner} on the cluster, by ${d.owner} in KWS` });
    }
  }
  for (const d of databases) {
    if (!rowDatabases.has(d.name)) drift.push({ kind: "database", name: d.name, side: "cluster", userId: d.ownerId, problem: `a database of KWS role ${d.owner} without a row` });
  }
  return drift.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
}

/** One line per entry, for people. */
export function formatDrift(drift: DriftEntry[]): string {
  if (drift.length === 0) return "no drift: KWS's rows and the cluster agree";
  const where = { cluster: "cluster only", kws: "KWS only", both: "disagree" } as const;
  return drift
    .map((d) => `${d.kind.padEnd(8)} ${d.name.padEnd(24)} ${where[d.side].padEnd(12)} user ${d.userId ?? "-"}  ${d.problem}`)
    .join("\n");
}

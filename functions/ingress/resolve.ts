import { eq, sql } from "drizzle-orm";
import type { Db } from "../../shared/db";
import { perDatabase } from "../../shared/db/per-database";
import { apps, instances, type AppAccess, type InstanceState } from "../../shared/db/schema";
import { IDE_PORT } from "../instances/service";
import type { StreamTarget } from "./stream-dialer";

/** What an app host names: the IDE of an instance, a published port of one, or a tunnel's local port (always "running"). */
export interface Destination {
  label: string;
  kind: "ide" | "app" | "tunnel";
  ownerId: string;
  access: AppAccess;
  instanceState: InstanceState;
  /** The instance's latest job (a start that runs shows on the stopped page). */
  instanceJobId: string | null;
  target: StreamTarget;
}

const columns = {
  ownerId: instances.userId,
  hostId: instances.hostId,
  address: instances.ipv4,
  state: instances.state,
  jobId: instances.jobId,
};

// Prepared once per database handle: every proxied request and every ask of Caddy runs it.
const byLabel = perDatabase((db) =>
  db
    .select({ ...columns, kind: sql<"ide" | "app">`'ide'`.as("kind"), port: sql<number>`${IDE_PORT}::int`.as("port"), access: sql<AppAccess>`'owner'`.as("access") })
    .from(instances)
    .where(eq(instances.label, sql.placeholder("label")))
    .unionAll(
      db
        .select({ ...columns, kind: sql<"ide" | "app">`'app'`.as("kind"), port: apps.port, access: apps.access })
        .from(apps)
        .innerJoin(instances, eq(instances.id, apps.instanceId))
        .where(eq(apps.name, sql.placeholder("label"))),
    )
    .limit(1)
    .prepare("ingress_by_label"),
);

/**
 * The destination of a label, in one round trip over the two unique indexes (instance labels, app
 * names; the names lock keeps them disjoint); undefined: no such name.
 */
export async function resolveLabel(db: Db, label: string): Promise<Destination | undefined> {
  const [row] = await byLabel(db).execute({ label });
  if (!row) return undefined;
  return {
    label,
    kind: row.kind,
    ownerId: row.ownerId,
    access: row.access,
    instanceState: row.state,
    instanceJobId: row.jobId,
    target: { hostId: row.hostId, address: row.address, port: Number(row.port) },
  };
}

/** How long the router reuses a name it resolved: a query per proxied request was a fifth of the router's CPU under load. */
const RESOLVED_FOR_MS = 1000;
const MAX_RESOLVED = 10_000;

// Per database handle, as the app routes that forget a changed name and the router share one in a process.
const resolved = perDatabase(() => new Map<string, { dest: Destination; until: number }>());

/**
 * The destination of a label, reused for up to a second after it was read (running destinations
 * only: a new app answers at once, a stopped instance's page is always current). A change through this process's API forgets it at once (forgetLabel);
 * another process's change shows within the second, and a dial that fails on a reused destination
 * resolves again (the router, with `fresh`), so a stopped or removed instance shows at once.
 */
export async function resolveLabelCached(db: Db, label: string, fresh = false): Promise<{ dest: Destination; reused: boolean } | undefined> {
  const cache = resolved(db);
  const hit = fresh ? undefined : cache.get(label);
  const now = performance.now();
  if (hit && hit.until > now) return { dest: hit.dest, reused: true };
  const dest = await resolveLabel(db, label);
  cache.delete(label);
  if (!dest) return undefined;
  // Only what is proxied: the pages of a stopped instance show its latest job, and are no hot path.
  if (dest.instanceState !== "running") return { dest, reused: false };
  if (cache.size >= MAX_RESOLVED) cache.delete(cache.keys().next().value!);
  cache.set(label, { dest, until: now + RESOLVED_FOR_MS });
  return { dest, reused: false };
}

/** The next request for `label` reads it again (its app changed or went). */
export function forgetLabel(db: Db, label: string): void {
  resolved(db).delete(label);
}

import { eq, sql } from "drizzle-orm";
import type { Db } from "../../shared/db";
import { perDatabase } from "../../shared/db/per-database";
import { apps, instances, type AppAccess, type InstanceState } from "../../shared/db/schema";
import { IDE_PORT } from "../instances/service";
import type { StreamTarget } from "./stream-dialer";

/** What an app host names: the IDE of an instance, or a published port of one. */
export interface Destination {
  label: string;
  kind: "ide" | "app";
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

import { eq } from "drizzle-orm";
import type { Db } from "../../shared/db";
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

/** The destination of a label, by the two unique indexes (instance labels, app names); undefined: no such name. */
export async function resolveLabel(db: Db, label: string): Promise<Destination | undefined> {
  const [[ide], [app]] = await Promise.all([
    db.select(columns).from(instances).where(eq(instances.label, label)).limit(1),
    db
      .select({ ...columns, port: apps.port, access: apps.access })
      .from(apps)
      .innerJoin(instances, eq(instances.id, apps.instanceId))
      .where(eq(apps.name, label))
      .limit(1),
  ]);
  const row = ide ? { ...ide, port: IDE_PORT, access: "owner" as const, kind: "ide" as const } : app ? { ...app, kind: "app" as const } : undefined;
  if (!row) return undefined;
  return {
    label,
    kind: row.kind,
    ownerId: row.ownerId,
    access: row.access,
    instanceState: row.state,
    instanceJobId: row.jobId,
    target: { hostId: row.hostId, address: row.address, port: row.port },
  };
}

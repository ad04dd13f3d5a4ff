import { and, eq, inArray } from "drizzle-orm";
import type { Database } from "../../shared/db";
import { devices } from "../../shared/db/schema";
import { submitJob } from "../core/jobs/submit";
import type { Logger } from "../../shared/logger";
import type { QueuePort } from "../../shared/queue/port";

export interface OwnerChange {
  userId: string;
  hostId: string;
  /** The container's address the devices may reach from now on; null: none. */
  ownerAddress: string | null;
  deadlineSeconds: number;
}

/**
 * When a person's container gets or loses its address, their devices' peers must follow at once:
 * a killed container's address may go to someone else's next container. One wg.peer.add per device
 * (it updates the allowed destination in place). Best effort: a failure is logged and the agent's
 * reconcile with the control plane's peer set repairs it.
 */
export async function queueOwnerChange(db: Database, queue: QueuePort, log: Logger, change: OwnerChange): Promise<void> {
  const rows = await db
    .select()
    .from(devices)
    .where(and(eq(devices.userId, change.userId), eq(devices.hostId, change.hostId), inArray(devices.state, ["pending", "active"])));
  for (const device of rows) {
    try {
      await submitJob(db, queue, log, {
        hostId: change.hostId,
        userId: change.userId,
        kind: "wg.peer.add",
        payload: { publicKey: device.publicKey, address: `${device.address}/32`, ownerAddress: change.ownerAddress },
        deadlineSeconds: change.deadlineSeconds,
      });
    } catch (err) {
      log.warn("device peer update not queued; the host's next reconcile repairs it", { deviceId: device.id, err });
    }
  }
}

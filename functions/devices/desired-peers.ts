import { and, eq, inArray } from "drizzle-orm";
import type { Database } from "../../shared/db";
import { devices, instances } from "../../shared/db/schema";
import type { WireGuardPeer } from "../../shared/protocol/wireguard";

/**
 * The peer set a host's WireGuard interface should have, from PostgreSQL: every device of the host
 * that is not being removed, each allowed to reach its owner's container on that host (null while
 * the owner has none there). Pending devices are included, so a reconcile that runs while their
 * add job is in flight does not remove them.
 */
export async function desiredPeers(db: Database, hostId: string): Promise<WireGuardPeer[]> {
  const rows = await db
    .select({ publicKey: devices.publicKey, address: devices.address, ownerAddress: instances.ipv4 })
    .from(devices)
    .leftJoin(instances, and(eq(instances.userId, devices.userId), eq(instances.hostId, devices.hostId)))
    .where(and(eq(devices.hostId, hostId), inArray(devices.state, ["pending", "active"])))
    .orderBy(devices.address);
  return rows.map((r) => ({ publicKey: r.publicKey, address: `${r.address}/32`, ownerAddress: r.ownerAddress ?? null }));
}

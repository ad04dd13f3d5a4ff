import { and, eq } from "drizzle-orm";
import { releaseAddress } from "../core/addresses/store";
import type { Database } from "../../shared/db";
import { devices, type Device, type Job } from "../../shared/db/schema";
import { commandSchemas } from "../../shared/protocol/commands";
import { recordEvent } from "../webhooks/outbox";
import { isOnline, presentDevice } from "./present";

export const deviceAddressHolder = (device: Pick<Device, "id">) => `device:${device.id}`;

async function removeDevice(tx: Database, device: Device) {
  await tx.delete(devices).where(eq(devices.id, device.id));
  await releaseAddress(tx, { pool: "wireguard", holder: deviceAddressHolder(device) });
}

/**
 * The traffic figures a wg.status job read, onto the host's device rows. A device whose online
 * state differs from the last reading's is a device.online or device.offline event.
 */
async function recordStatus(tx: Database, job: Job) {
  const parsed = commandSchemas["wg.status"].result.safeParse(job.result);
  if (!parsed.success) return;
  const now = Date.now();
  for (const peer of parsed.data.peers) {
    const lastHandshakeAt = peer.latestHandshakeAt ? new Date(peer.latestHandshakeAt) : null;
    const online = isOnline(lastHandshakeAt, now);
    const [before] = await tx
      .select({ online: devices.online })
      .from(devices)
      .where(and(eq(devices.hostId, job.hostId), eq(devices.publicKey, peer.publicKey)))
      .for("update");
    if (!before) continue;
    const [device] = await tx
      .update(devices)
      .set({ lastHandshakeAt, online, rxBytes: peer.rxBytes, txBytes: peer.txBytes })
      .where(and(eq(devices.hostId, job.hostId), eq(devices.publicKey, peer.publicKey)))
      .returning();
    if (device && before.online !== online) await recordEvent(tx, device.userId, online ? "device.online" : "device.offline", presentDevice(device, now));
  }
}

/**
 * In the transaction that records a WireGuard job's outcome (with its webhook events). A device is pending until the agent
 * confirms its peer; if that fails, the row and its address go (the registration is rolled back).
 * A confirmed removal deletes the row and frees the address; a failed one leaves the device active.
 */
export async function applyDeviceOutcome(tx: Database, job: Job): Promise<void> {
  const ok = job.status === "succeeded";
  if (job.kind === "wg.status") {
    if (ok) await recordStatus(tx, job);
    return;
  }
  const [device] = await tx.select().from(devices).where(eq(devices.jobId, job.id)).for("update");
  if (!device) return;
  if (job.kind === "wg.peer.add") {
    if (ok) {
      const [added] = await tx.update(devices).set({ state: "active", updatedAt: new Date() }).where(eq(devices.id, device.id)).returning();
      await recordEvent(tx, device.userId, "device.added", presentDevice(added!));
    } else if (device.state === "pending") await removeDevice(tx, device);
  } else if (job.kind === "wg.peer.remove") {
    if (ok) {
      await removeDevice(tx, device);
      await recordEvent(tx, device.userId, "device.removed", presentDevice(device));
    } else await tx.update(devices).set({ state: "active", updatedAt: new Date() }).where(eq(devices.id, device.id));
  }
}

/** A failed peer change may run again while it is still its device's latest job; other wg jobs change no device row. */
export async function deviceWaitsOn(tx: Database, job: Job): Promise<boolean> {
  if (job.kind !== "wg.peer.add" && job.kind !== "wg.peer.remove") return true;
  const [device] = await tx.select({ id: devices.id }).from(devices).where(eq(devices.jobId, job.id)).limit(1);
  return device !== undefined;
}

import type { z } from "@hono/zod-openapi";
import type { Device } from "../../shared/db/schema";
import { ONLINE_WINDOW_MS, type DeviceSchema } from "./schemas";

/** Online: a handshake within the window. */
export const isOnline = (lastHandshakeAt: Date | null, now = Date.now()) => lastHandshakeAt !== null && now - lastHandshakeAt.getTime() <= ONLINE_WINDOW_MS;

export function presentDevice(d: Device, now = Date.now()): z.infer<typeof DeviceSchema> {
  return {
    id: d.id,
    name: d.name,
    publicKey: d.publicKey,
    address: d.address,
    state: d.state,
    online: isOnline(d.lastHandshakeAt, now),
    lastHandshakeAt: d.lastHandshakeAt?.toISOString() ?? null,
    rxBytes: d.rxBytes,
    txBytes: d.txBytes,
    createdAt: d.createdAt.toISOString(),
  };
}

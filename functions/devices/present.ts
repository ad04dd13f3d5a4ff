import type { z } from "@hono/zod-openapi";
import type { Device } from "../../shared/db/schema";
import { ONLINE_WINDOW_MS, type DeviceSchema } from "./schemas";

export function presentDevice(d: Device, now = Date.now()): z.infer<typeof DeviceSchema> {
  return {
    id: d.id,
    name: d.name,
    publicKey: d.publicKey,
    address: d.address,
    state: d.state,
    online: d.lastHandshakeAt !== null && now - d.lastHandshakeAt.getTime() <= ONLINE_WINDOW_MS,
    lastHandshakeAt: d.lastHandshakeAt?.toISOString() ?? null,
    rxBytes: d.rxBytes,
    txBytes: d.txBytes,
    createdAt: d.createdAt.toISOString(),
  };
}

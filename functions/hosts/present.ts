import type { Host } from "../../shared/db/schema";
import { hostState, isOnline } from "./store";
import type { z } from "@hono/zod-openapi";
import type { HostSchema } from "./schemas";

export function presentHost(host: Host, heartbeatMs: number): z.infer<typeof HostSchema> {
  return {
    id: host.id,
    name: host.name,
    publicAddress: host.publicAddress,
    state: hostState(host, heartbeatMs),
    online: isOnline(host, heartbeatMs),
    draining: host.draining,
    enrolled: host.enrolledAt !== null,
    lastHeartbeatAt: host.lastHeartbeatAt?.toISOString() ?? null,
    connectedAt: host.connectedAt?.toISOString() ?? null,
    agentVersion: host.agentVersion,
    lxdVersion: host.lxdVersion,
    degradedReason: host.degradedReason,
    facts: host.facts ?? null,
    createdAt: host.createdAt.toISOString(),
  };
}

import type { Config } from "../../shared/config";
import { isOnline } from "./store";
import type { Host } from "../../shared/db/schema";
import type { HostLoad } from "./home-host";

export interface PlacementRules {
  /** The new instance's memory limit. */
  memoryMB: number;
  /** What each host keeps for itself. */
  reserveMB: number;
  heartbeatMs: number;
  now?: number;
}

/** The rules as configured, for an instance of `memoryMB` (the person's quota). */
export function placementRules(config: Pick<Config, "instances" | "heartbeatMs">, memoryMB: number): PlacementRules {
  return { memoryMB, reserveMB: config.instances.hostReserveMB, heartbeatMs: config.heartbeatMs };
}

const MB = 1024 * 1024;

/** Whether the host can take one more instance of that size: its limits stay under memory minus the reserve. */
export function hasRoom(host: Host, load: HostLoad | undefined, rules: PlacementRules): boolean {
  if (!host.facts) return false;
  const capacityMB = Math.floor(host.facts.memoryBytes / MB) - rules.reserveMB;
  return (load?.memoryMB ?? 0) + rules.memoryMB <= capacityMB;
}

/**
 * The host for a person's first instance: online, not draining, healthy (LXD answers), with room;
 * ties go to the host with fewer instances, then to the name, so the choice is reproducible.
 */
export function chooseHost(candidates: Host[], loads: Map<string, HostLoad>, rules: PlacementRules): Host | undefined {
  const now = rules.now ?? Date.now();
  return candidates
    .filter((h) => !h.draining && !h.degradedReason && isOnline(h, rules.heartbeatMs, now) && hasRoom(h, loads.get(h.id), rules))
    .sort((a, b) => (loads.get(a.id)?.instances ?? 0) - (loads.get(b.id)?.instances ?? 0) || a.name.localeCompare(b.name))[0];
}

import { count, eq, sql } from "drizzle-orm";
import type { Database } from "../../shared/db";
import { lockPlacement } from "../core/locks";
import { hosts, instances, users, type Host } from "../../shared/db/schema";
import { AppError } from "../core/errors";
import { listHosts } from "./store";
import { chooseHost, hasRoom, type PlacementRules } from "./placement";

export interface HostLoad {
  instances: number;
  memoryMB: number;
}

/** Per host: how many instances it holds and the sum of their memory limits. */
async function hostLoads(db: Database): Promise<Map<string, HostLoad>> {
  const rows = await db
    .select({ hostId: instances.hostId, n: count(), memoryMB: sql<string>`coalesce(sum(${instances.memoryMB}), 0)` })
    .from(instances)
    .groupBy(instances.hostId);
  return new Map(rows.map((r) => [r.hostId, { instances: r.n, memoryMB: Number(r.memoryMB) }]));
}

async function homeHostRow(db: Database, userId: string): Promise<Host | undefined> {
  const [row] = await db
    .select({ host: hosts })
    .from(users)
    .innerJoin(hosts, eq(hosts.id, users.homeHostId))
    .where(eq(users.id, userId));
  return row?.host;
}

/**
 * The host of a person's instance and devices: the one they already have, else the placement
 * choice (online, not draining, room for an instance of the configured size, fewer instances
 * first), which becomes theirs. Runs in the caller's transaction, serialized with other
 * placements. `needRoom`: an instance is about to be added there (a device needs no memory).
 * The caller must hold the person's row lock (functions/core/locks.ts lockUser).
 */
export async function homeHostFor(tx: Database, userId: string, rules: PlacementRules, needRoom: boolean): Promise<Host> {
  let home = await homeHostRow(tx, userId);
  // The caller holds the person's row lock, so their home cannot change meanwhile; without a room
  // check nothing else needs the placement lock, which serializes every placement.
  if (home && !needRoom) return home;
  await lockPlacement(tx);
  const loads = await hostLoads(tx);
  home ??= await homeHostRow(tx, userId);
  if (home) {
    if (needRoom && !hasRoom(home, loads.get(home.id), rules)) {
      throw new AppError("no_capacity", `your host ${home.name} has no room for another ${rules.memoryMB} MB instance right now`);
    }
    return home;
  }
  const host = chooseHost(await listHosts(tx), loads, rules);
  if (!host) throw new AppError("no_capacity", "no host has room for a new instance right now; try again later");
  await tx.update(users).set({ homeHostId: host.id }).where(eq(users.id, userId));
  return host;
}

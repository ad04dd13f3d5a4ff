import { eq, inArray, lte } from "drizzle-orm";
import type { Database, Db } from "../../shared/db";
import { tunnels, type AppAccess, type Tunnel } from "../../shared/db/schema";
import { labelTaken, lockNames } from "../ingress/names";

export type Claim = { tunnel: Tunnel } | { taken: "name" | "tunnel" };

/**
 * Holds `name` for a tunnel until `until`, under the names lock: refused when an instance or an
 * app has it, or a live tunnel whose key is not this one (another person's, or another tunnel of
 * the same person); a row of a tunnel that expired, or of this key, is taken over.
 */
export async function claimTunnel(
  db: Database,
  o: { userId: string; name: string; access: AppAccess; keyHash: string; until: Date },
): Promise<Claim> {
  return db.transaction(async (tx) => {
    await lockNames(tx);
    const [held] = await tx.select().from(tunnels).where(eq(tunnels.name, o.name)).for("update");
    const ours = held && held.keyHash === o.keyHash && held.userId === o.userId;
    if (held && !ours && held.expiresAt > new Date()) return { taken: "tunnel" };
    if (await labelTaken(tx, o.name, { tunnels: false })) return { taken: "name" };
    const values = { userId: o.userId, access: o.access, keyHash: o.keyHash, expiresAt: o.until };
    const [tunnel] = held
      ? await tx.update(tunnels).set(values).where(eq(tunnels.id, held.id)).returning()
      : await tx.insert(tunnels).values({ ...values, name: o.name }).returning();
    return { tunnel: tunnel! };
  });
}

/** A free name for a tunnel that asked for none. */
export async function newTunnelName(db: Db, random: () => string): Promise<string> {
  for (;;) {
    const candidate = `t-${random()}`;
    if (!(await labelTaken(db, candidate))) return candidate;
  }
}

/** The live tunnels of this process hold their names a while longer. */
export async function renewTunnels(db: Db, ids: readonly string[], until: Date): Promise<void> {
  if (ids.length > 0) await db.update(tunnels).set({ expiresAt: until }).where(inArray(tunnels.id, ids));
}

/** The tunnel's name stays held until `until` only (its CLI went away; it may come back before). */
export async function holdTunnelUntil(db: Db, id: string, until: Date): Promise<void> {
  await db.update(tunnels).set({ expiresAt: until }).where(eq(tunnels.id, id));
}

/** The name is free at once. */
export async function releaseTunnel(db: Db, id: string): Promise<void> {
  await db.delete(tunnels).where(eq(tunnels.id, id));
}

/** Rows whose tunnels are long gone: nothing reads them, they only take room. */
export async function deleteExpiredTunnels(db: Db, before: Date): Promise<void> {
  await db.delete(tunnels).where(lte(tunnels.expiresAt, before));
}

import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../../shared/db";
import { perDatabase } from "../../shared/db/per-database";
import { apps, domains, instances, type AppAccess, type InstanceState } from "../../shared/db/schema";
import { IDE_PORT } from "../instances/service";
import type { StreamTarget } from "./stream-dialer";

/** What an app host names: the IDE of an instance, a published port of one, or a tunnel's local port (always "running"). */
export interface Destination {
  /** The instance label or app name (a custom domain's is its app's). */
  label: string;
  /** Null for a tunnel: no instance behind it. */
  instanceId: string | null;
  kind: "ide" | "app" | "tunnel";
  ownerId: string;
  access: AppAccess;
  instanceState: InstanceState;
  /** The instance's latest job (a start that runs shows on the stopped page). */
  instanceJobId: string | null;
  target: StreamTarget;
}

const columns = {
  instanceId: instances.id,
  ownerId: instances.userId,
  hostId: instances.hostId,
  address: instances.ipv4,
  state: instances.state,
  jobId: instances.jobId,
};

// Prepared once per database handle: every proxied request and every ask of Caddy runs it.
const byLabel = perDatabase((db) =>
  db
    .select({ ...columns, kind: sql<"ide" | "app">`'ide'`.as("kind"), port: sql<number>`${IDE_PORT}::int`.as("port"), access: sql<AppAccess>`'owner'`.as("access") })
    .from(instances)
    .where(eq(instances.label, sql.placeholder("label")))
    .unionAll(
      db
        .select({ ...columns, kind: sql<"ide" | "app">`'app'`.as("kind"), port: apps.port, access: apps.access })
        .from(apps)
        .innerJoin(instances, eq(instances.id, apps.instanceId))
        .where(eq(apps.name, sql.placeholder("label"))),
    )
    .limit(1)
    .prepare("ingress_by_label"),
);

// A custom domain names its app while it is verified: a pending, lost or expired claim names nothing.
const byDomain = perDatabase((db) =>
  db
    .select({ ...columns, kind: sql<"ide" | "app">`'app'`.as("kind"), port: apps.port, access: apps.access, label: apps.name })
    .from(domains)
    .innerJoin(apps, eq(apps.id, domains.appId))
    .innerJoin(instances, eq(instances.id, apps.instanceId))
    .where(and(eq(domains.name, sql.placeholder("site")), eq(domains.status, "verified")))
    .limit(1)
    .prepare("ingress_by_domain"),
);

/** Whether a site is a custom domain (it has dots) rather than a label under the apps base (none). */
export const isDomainSite = (site: string) => site.includes(".");

/**
 * The destination of a site: an app host's label (one round trip over the two unique indexes of
 * instance labels and app names; the names lock keeps them disjoint), or a verified custom
 * domain. Undefined: no such name.
 */
export async function resolveSite(db: Db, site: string): Promise<Destination | undefined> {
  const [row] = isDomainSite(site) ? await byDomain(db).execute({ site }) : (await byLabel(db).execute({ label: site })).map((r) => ({ ...r, label: site }));
  if (!row) return undefined;
  return {
    label: row.label,
    instanceId: row.instanceId,
    kind: row.kind,
    ownerId: row.ownerId,
    access: row.access,
    instanceState: row.state,
    instanceJobId: row.jobId,
    target: { hostId: row.hostId, address: row.address, port: Number(row.port) },
  };
}

/** How long the router reuses a name it resolved: a query per proxied request was a fifth of the router's CPU under load. */
const RESOLVED_FOR_MS = 1000;
const MAX_RESOLVED = 10_000;

// Per database handle, as the app routes that forget a changed name and the router share one in a process.
const resolved = perDatabase(() => new Map<string, { dest: Destination | undefined; until: number }>());

/**
 * The destination of a site, reused for up to a second after it was read (running destinations
 * only: a new app answers at once, a stopped instance's page is always current; and custom domains
 * that name nothing, so the control plane's own other names cost one query a second, not one a
 * request). A change through this process's API forgets it at once (forgetSite); another process's
 * change shows within the second, and a dial that fails on a reused destination resolves again
 * (the router, with `fresh`), so a stopped or removed instance shows at once.
 */
export async function resolveSiteCached(db: Db, site: string, fresh = false): Promise<{ dest: Destination; reused: boolean } | undefined> {
  const cache = resolved(db);
  const hit = fresh ? undefined : cache.get(site);
  const now = performance.now();
  if (hit && hit.until > now) return hit.dest && { dest: hit.dest, reused: true };
  const dest = await resolveSite(db, site);
  cache.delete(site);
  // Only what is proxied: the pages of a stopped instance show its latest job, and are no hot path.
  if (dest ? dest.instanceState !== "running" : !isDomainSite(site)) return dest && { dest, reused: false };
  if (cache.size >= MAX_RESOLVED) cache.delete(cache.keys().next().value!);
  cache.set(site, { dest, until: now + RESOLVED_FOR_MS });
  return dest && { dest, reused: false };
}

/** The next request for `site` reads it again; an app's name also forgets the custom domains that lead to it. */
export function forgetSite(db: Db, site: string): void {
  const cache = resolved(db);
  cache.delete(site);
  if (isDomainSite(site)) return;
  for (const [key, entry] of cache) if (entry.dest?.label === site && isDomainSite(key)) cache.delete(key);
}

import { isIP } from "node:net";
import { and, eq, gt, sql } from "drizzle-orm";
import type { Db } from "../../shared/db";
import { apps, instances, tunnels } from "../../shared/db/schema";

/** One DNS label: what a name under the apps base may be. */
export const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
export const DNS_LABEL_RULE = "must be a DNS label: 1-63 lower-case letters, digits and '-', not starting or ending with '-'";

/** Names KWS keeps for itself (besides every instance label). */
export const RESERVED_LABELS: ReadonlySet<string> = new Set(["www", "api", "admin", "kws", "mail"]);

// Any fixed number: the key of the advisory lock below.
const NAMES_LOCK = 0x6b776e;

/**
 * Serializes the choice of names under the apps base until the transaction ends: an app name and
 * an instance label live in two tables, so no unique index alone can keep them apart.
 */
export async function lockNames(tx: Db): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${NAMES_LOCK})`);
}

/** Whether an instance, an app or (unless `tunnels` is false) a live tunnel (functions/tunnels) already has this label. */
export async function labelTaken(db: Db, label: string, o: { tunnels?: boolean } = {}): Promise<boolean> {
  const [instance] = await db.select({ id: instances.id }).from(instances).where(eq(instances.label, label)).limit(1);
  if (instance) return true;
  const [app] = await db.select({ id: apps.id }).from(apps).where(eq(apps.name, label)).limit(1);
  if (app) return true;
  if (o.tunnels === false) return false;
  const [tunnel] = await db.select({ id: tunnels.id }).from(tunnels).where(and(eq(tunnels.name, label), gt(tunnels.expiresAt, new Date()))).limit(1);
  return Boolean(tunnel);
}

/**
 * A free label for a new instance, from its owner's account name where it makes one (ada_l →
 * ada-l), else with a random suffix. Call under lockNames.
 */
export async function newInstanceLabel(tx: Db, username: string): Promise<string> {
  const base = username.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40).replace(/-+$/, "") || "ide";
  let candidate = base;
  for (;;) {
    if (DNS_LABEL.test(candidate) && !RESERVED_LABELS.has(candidate) && !(await labelTaken(tx, candidate))) return candidate;
    candidate = `${base}-${Math.random().toString(36).slice(2, 8).padEnd(6, "0")}`;
  }
}

/** The URL of an app host: `http://localhost:8080` and `ada` → `http://ada.localhost:8080/`. */
export function appUrl(appsUrl: string, label: string): string {
  const base = new URL(appsUrl);
  return `${base.protocol}//${label}.${base.host}/`;
}

/**
 * The label of a Host header that names an app host (one label under the apps base's host name;
 * the port is not compared: behind a proxy the Host has none), else undefined.
 */
export function labelOfHost(appsUrl: string, host: string | undefined): string | undefined {
  const hostname = hostnameOf(host);
  if (!hostname) return undefined;
  const suffix = `.${new URL(appsUrl).hostname}`;
  if (!hostname.endsWith(suffix)) return undefined;
  const label = hostname.slice(0, -suffix.length);
  return DNS_LABEL.test(label) ? label : undefined;
}

/** A Host header's name: lower case, without its port or a trailing dot. */
function hostnameOf(host: string | undefined): string | undefined {
  return host?.toLowerCase().replace(/:\d+$/, "").replace(/\.$/, "");
}

const DOMAIN = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A lower-case ASCII DNS name of two labels or more, not an IP address. */
export const isDnsName = (name: string) => name.length <= 253 && !isIP(name) && DOMAIN.test(name);

/**
 * The name of a Host header that could be a person's custom domain: a DNS name of two labels or
 * more that is not an IP address, nor KWS's own host, nor the apps base or under it. Whether it is
 * one (verified) takes a lookup.
 */
export function customDomainOfHost(config: Hosts, host: string | undefined): string | undefined {
  const hostname = hostnameOf(host);
  if (!hostname || !isDnsName(hostname)) return undefined;
  return ownHostOf(config, hostname) ? undefined : hostname;
}

type Hosts = { appsUrl: string; publicUrl: string };

/** KWS's own host name (the apps base's or the control plane's) that `name` is or is under, if any. */
export function ownHostOf(config: Hosts, name: string): string | undefined {
  return [new URL(config.appsUrl).hostname, new URL(config.publicUrl).hostname].find((h) => name === h || name.endsWith(`.${h}`));
}

/** The address of a site: an app host under the apps base, or a custom domain on the same scheme and port. */
export function siteUrl(appsUrl: string, site: string): string {
  if (!site.includes(".")) return appUrl(appsUrl, site);
  const base = new URL(appsUrl);
  return `${base.protocol}//${site}${base.port ? `:${base.port}` : ""}/`;
}

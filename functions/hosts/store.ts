import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import { rowsOf, type Database } from "../../shared/db";
import { perDatabase } from "../../shared/db/per-database";
import { hosts, type Host, type HostFacts } from "../../shared/db/schema";

const hostById = perDatabase((db) => db.select().from(hosts).where(eq(hosts.id, sql.placeholder("id"))).limit(1).prepare("host_by_id"));

export async function getHost(db: Database, id: string): Promise<Host | undefined> {
  const [row] = await hostById(db).execute({ id });
  return row;
}

export function listHosts(db: Database): Promise<Host[]> {
  return db.select().from(hosts).orderBy(hosts.name);
}

export async function insertHost(
  db: Database,
  values: Pick<Host, "name" | "publicAddress" | "enrollmentTokenHash" | "enrollmentExpiresAt">,
): Promise<Host> {
  const [row] = await db.insert(hosts).values(values).returning();
  return row!;
}

export async function setDraining(db: Database, id: string, draining: boolean): Promise<Host | undefined> {
  const [row] = await db.update(hosts).set({ draining, updatedAt: sql`now()` }).where(eq(hosts.id, id)).returning();
  return row;
}

export async function deleteHost(db: Database, id: string): Promise<boolean> {
  const rows = await db.delete(hosts).where(eq(hosts.id, id)).returning({ id: hosts.id });
  return rows.length > 0;
}

/** Which of `ids` are still hosts. */
export async function existingHosts(db: Database, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.select({ id: hosts.id }).from(hosts).where(inArray(hosts.id, ids));
  return new Set(rows.map((r) => r.id));
}

/**
 * Trades a live enrollment token for a credential, once: the UPDATE matches only an unused,
 * unexpired token, so two agents racing with one token cannot both enroll.
 */
export async function enrollHost(db: Database, tokenHash: string, credentialHash: string, now = new Date()): Promise<Host | undefined> {
  const [row] = await db
    .update(hosts)
    .set({ credentialHash, enrolledAt: now, updatedAt: now })
    .where(
      and(
        eq(hosts.enrollmentTokenHash, tokenHash),
        isNull(hosts.enrolledAt),
        sql`${hosts.enrollmentExpiresAt} > ${now.toISOString()}`,
      ),
    )
    .returning();
  return row;
}

export async function hostByEnrollmentToken(db: Database, tokenHash: string): Promise<Host | undefined> {
  const [row] = await db.select().from(hosts).where(eq(hosts.enrollmentTokenHash, tokenHash)).limit(1);
  return row;
}

export async function hostByCredential(db: Database, credentialHash: string): Promise<Host | undefined> {
  const [row] = await db.select().from(hosts).where(eq(hosts.credentialHash, credentialHash)).limit(1);
  return row;
}

export interface Holder {
  connectionId: string;
  gatewayId: string | null;
}

/**
 * Makes this connection (of this gateway) the one that holds the host; answers the connection it
 * replaced, if any, so that one can be told to end wherever it is.
 */
export async function markConnected(
  db: Database,
  id: string,
  holder: Holder,
  hello: { agentVersion: string; lxdVersion: string | null; degradedReason: string | null },
): Promise<Holder | undefined> {
  const previous = db.$with("previous").as(
    db.select({ id: hosts.id, connectionId: hosts.connectionId, gatewayId: hosts.gatewayId }).from(hosts).where(eq(hosts.id, id)).for("update"),
  );
  const [row] = await db
    .with(previous)
    .update(hosts)
    .set({
      connectionId: holder.connectionId,
      gatewayId: holder.gatewayId,
      connectedAt: sql`now()`,
      lastHeartbeatAt: sql`now()`,
      agentVersion: hello.agentVersion,
      lxdVersion: hello.lxdVersion,
      degradedReason: hello.degradedReason,
      updatedAt: sql`now()`,
    })
    .from(previous)
    .where(eq(hosts.id, previous.id))
    .returning({ connectionId: previous.connectionId, gatewayId: previous.gatewayId });
  return row?.connectionId ? { connectionId: row.connectionId, gatewayId: row.gatewayId } : undefined;
}

/** Only the connection that holds the host may mark it offline; a replaced one may not. */
export async function markDisconnected(db: Database, id: string, connectionId: string): Promise<void> {
  await db
    .update(hosts)
    .set({ connectionId: null, gatewayId: null, disconnectedAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(eq(hosts.id, id), eq(hosts.connectionId, connectionId)));
}

export interface Beat {
  hostId: string;
  connectionId: string;
}

/**
 * One statement for every connection that answered a heartbeat: the hosts they still hold get the
 * beat. Answers, for each host still present, the connection that holds it now (another one, or
 * none, means the beating one was replaced).
 */
export async function recordHeartbeats(db: Database, beats: readonly Beat[]): Promise<Map<string, string | null>> {
  if (beats.length === 0) return new Map();
  const rows = rowsOf<{ id: string; connection_id: string | null }>(
    await db.execute(sql`
      with beats as (
        select * from jsonb_to_recordset(${JSON.stringify(beats)}::jsonb) as b("hostId" uuid, "connectionId" text)
      ), beat as (
        update hosts set last_heartbeat_at = now() from beats
        where hosts.id = beats."hostId" and hosts.connection_id = beats."connectionId"
        returning hosts.id
      )
      select h.id, h.connection_id from hosts h join beats on h.id = beats."hostId"`),
  );
  return new Map(rows.map((r) => [r.id, r.connection_id]));
}

export async function recordFacts(db: Database, id: string, facts: HostFacts): Promise<void> {
  await db.update(hosts).set({ facts, updatedAt: sql`now()` }).where(eq(hosts.id, id));
}

export type HostState = "online" | "offline" | "draining";

/** Online means held by a connection whose last heartbeat is at most two intervals old. */
export function hostState(host: Host, heartbeatMs: number, now = Date.now()): HostState {
  if (host.draining) return "draining";
  return isOnline(host, heartbeatMs, now) ? "online" : "offline";
}

export function isOnline(host: Host, heartbeatMs: number, now = Date.now()): boolean {
  return host.connectionId !== null && host.lastHeartbeatAt !== null && now - host.lastHeartbeatAt.getTime() <= 2 * heartbeatMs;
}

import { and, asc, count, eq, inArray, lte, ne, sql } from "drizzle-orm";
import type { Db } from "../../shared/db";
import { apps, domains, users, type Domain } from "../../shared/db/schema";

/** A claim with the name of its app, as the API shows it. */
export type DomainRow = Domain & { app: string };

const withApp = (db: Db) => db.select({ domain: domains, app: apps.name }).from(domains).innerJoin(apps, eq(apps.id, domains.appId));
const flat = (rows: { domain: Domain; app: string }[]): DomainRow[] => rows.map((r) => ({ ...r.domain, app: r.app }));

export async function domainsOfUser(db: Db, userId: string): Promise<DomainRow[]> {
  return flat(await withApp(db).where(eq(domains.userId, userId)).orderBy(asc(domains.createdAt), asc(domains.name)));
}

export async function domainOfUser(db: Db, userId: string, name: string): Promise<DomainRow | undefined> {
  return flat(await withApp(db).where(and(eq(domains.userId, userId), eq(domains.name, name))))[0];
}

export async function countDomains(db: Db, userId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(domains).where(eq(domains.userId, userId));
  return row?.n ?? 0;
}

/**
 * Serializes what decides who holds `name` (a claim, a verification) until the transaction ends:
 * two records found at once must not each mark the other claim lost.
 */
export async function lockDomainName(tx: Db, name: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`domain:${name}`}))`);
}

/** Who holds `name` (their verified claim), if anyone. */
export async function verifiedHolder(db: Db, name: string): Promise<{ id: string; userId: string } | undefined> {
  const [row] = await db.select({ id: domains.id, userId: domains.userId }).from(domains).where(and(eq(domains.name, name), eq(domains.status, "verified")));
  return row;
}

export async function appIdOfUser(db: Db, userId: string, name: string): Promise<string | undefined> {
  const [row] = await db.select({ id: apps.id }).from(apps).where(and(eq(apps.userId, userId), eq(apps.name, name)));
  return row?.id;
}

export async function insertDomain(db: Db, values: typeof domains.$inferInsert): Promise<Domain> {
  const [row] = await db.insert(domains).values(values).returning();
  return row!;
}

export async function setDomain(db: Db, id: string, values: Partial<Omit<Domain, "id">>): Promise<Domain> {
  const [row] = await db
    .update(domains)
    .set({ ...values, updatedAt: new Date() })
    .where(eq(domains.id, id))
    .returning();
  return row!;
}

export async function deleteDomain(db: Db, id: string): Promise<void> {
  await db.delete(domains).where(eq(domains.id, id));
}

/**
 * Every other open or held claim of `name` becomes `lost`: answers whom to tell (their address and
 * first name).
 */
export async function loseOtherClaims(db: Db, name: string, winnerId: string) {
  const lost = await db
    .update(domains)
    .set({ status: "lost", updatedAt: new Date() })
    .where(and(eq(domains.name, name), ne(domains.id, winnerId), ne(domains.status, "lost"), ne(domains.status, "expired")))
    .returning({ userId: domains.userId });
  if (lost.length === 0) return [];
  return db
    .select({ to: users.email, firstName: users.firstName })
    .from(users)
    .where(inArray(users.id, lost.map((l) => l.userId)));
}

/** Pending claims whose next check is due at `now`, oldest due first. */
export function dueClaims(db: Db, now: Date, limit: number): Promise<Domain[]> {
  return db
    .select()
    .from(domains)
    .where(and(eq(domains.status, "pending"), lte(domains.nextCheckAt, now)))
    .orderBy(asc(domains.nextCheckAt))
    .limit(limit);
}

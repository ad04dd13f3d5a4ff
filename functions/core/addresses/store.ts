import { and, asc, eq, sql } from "drizzle-orm";
import { rowsOf, type Database } from "../../../shared/db";
import { addressLeases, type AddressLease, type AddressPool } from "../../../shared/db/schema";
import { formatRange, type PoolRange } from "../../../shared/addresses/pool";

/** The pool has no free address in its range; the API answers 503 no_capacity. */
export class PoolExhaustedError extends Error {
  constructor(
    readonly hostId: string,
    readonly pool: AddressPool,
    readonly range: PoolRange,
  ) {
    super(`no free address in the ${pool} pool of host ${hostId} (${formatRange(range)})`);
    this.name = "PoolExhaustedError";
  }
}

/** The holder already has an address in this pool, on another host: release it first. */
export class AddressHeldElsewhereError extends Error {
  constructor(
    readonly holder: string,
    readonly pool: AddressPool,
    readonly hostId: string,
  ) {
    super(`${holder} already holds a ${pool} address on host ${hostId}`);
    this.name = "AddressHeldElsewhereError";
  }
}

export interface AllocateOptions {
  hostId: string;
  pool: AddressPool;
  range: PoolRange;
  /** What holds the address: "instance:<id>", "device:<id>". */
  holder: string;
}

/**
 * How many times a statement that lost its number to a concurrent insert is run again. Every lost
 * attempt means another allocation on the same pool committed, so progress is guaranteed; the
 * bound only turns a pathological pile-up into an error instead of a hang.
 */
const MAX_ATTEMPTS = 200;

interface AllocateRow {
  inserted: string | null;
  existing_address: string | null;
  existing_host: string | null;
  candidate: string | null;
}

/**
 * Leases the lowest free address of `range` in the host's pool to `holder` and returns it
 * ("172.30.0.11"). Idempotent per holder: a holder that already has an address in the pool gets
 * it back. Throws PoolExhaustedError when the range is full.
 *
 * One statement per attempt: it looks up the holder's lease, finds the lowest free number (the
 * first of the range, or one past a leased number, that is itself not leased) and inserts it with
 * ON CONFLICT DO NOTHING. The unique index on (host_id, pool, address_num) is the guarantee: when
 * a concurrent allocation took the same number, the insert does nothing and the statement runs
 * again with a new snapshot. Works on `db` or inside a caller's transaction (READ COMMITTED:
 * every attempt sees what others committed meanwhile) on PostgreSQL and PGlite alike.
 */
export async function allocateAddress(db: Database, options: AllocateOptions): Promise<string> {
  const { hostId, pool, range, holder } = options;
  // Inside a caller's transaction, allocations on one pool queue here until that transaction ends,
  // instead of all computing the same lowest number and retrying against each other (1,000 at once
  // made ~70/s that way). Outside one, the lock ends with the statement and the retries below apply.
  await db.execute(sql`select pg_advisory_xact_lock(hashtext(${`${hostId}/${pool}`}::text))`);
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const row = await allocateOnce(db, options);
    if (row.existing_address !== null) {
      if (row.existing_host !== hostId) throw new AddressHeldElsewhereError(holder, pool, row.existing_host!);
      return row.existing_address;
    }
    if (row.inserted !== null) return row.inserted;
    if (row.candidate === null) throw new PoolExhaustedError(hostId, pool, range);
    // Lost the number (or the holder's first lease) to a concurrent insert: look again. After a few
    // losses, a short random pause spreads out callers that keep colliding on the same number.
    if (attempt > 3) await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(attempt, 20)));
  }
  throw new Error(`could not allocate a ${pool} address on host ${hostId} after ${MAX_ATTEMPTS} attempts`);
}

async function allocateOnce(db: Database, { hostId, pool, range, holder }: AllocateOptions): Promise<AllocateRow> {
  const result = await db.execute(sql`
    with existing as (
      select host_id, address from address_leases where pool = ${pool}::text and holder = ${holder}::text
    ), candidate as (
      select c.n from (
        select ${range.first}::bigint as n
        union all
        select l.address_num + 1 from address_leases l
         where l.host_id = ${hostId}::uuid and l.pool = ${pool}::text
           and l.address_num >= ${range.first}::bigint and l.address_num < ${range.last}::bigint
      ) c
      where not exists (
          select 1 from address_leases t
           where t.host_id = ${hostId}::uuid and t.pool = ${pool}::text and t.address_num = c.n
        )
        and not exists (select 1 from existing)
      order by c.n
      limit 1
    ), inserted as (
      insert into address_leases (host_id, pool, address_num, address, holder)
      select ${hostId}::uuid, ${pool}::text, n, host('0.0.0.0'::inet + n), ${holder}::text from candidate
      on conflict do nothing
      returning address
    )
    select (select address from inserted) as inserted,
           (select address from existing) as existing_address,
           (select host_id::text from existing) as existing_host,
           (select n::text from candidate) as candidate
  `);
  return rowsOf<AllocateRow>(result)[0]!;
}

/** Gives the holder's address in the pool back; whether it had one. */
export async function releaseAddress(db: Database, { pool, holder }: { pool: AddressPool; holder: string }): Promise<boolean> {
  const rows = await db
    .delete(addressLeases)
    .where(and(eq(addressLeases.pool, pool), eq(addressLeases.holder, holder)))
    .returning({ id: addressLeases.id });
  return rows.length > 0;
}

/** The host's leases in one pool, lowest address first. */
export function leasesOf(db: Database, hostId: string, pool: AddressPool): Promise<AddressLease[]> {
  return db
    .select()
    .from(addressLeases)
    .where(and(eq(addressLeases.hostId, hostId), eq(addressLeases.pool, pool)))
    .orderBy(asc(addressLeases.addressNum));
}

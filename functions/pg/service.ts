import type { PgServiceConfig } from "../../shared/config";
import { SecretBoxError, type SecretBox } from "../../shared/crypto/secret-box";
import { uniqueViolation } from "../../shared/db/errors";
import { AppError } from "../core/errors";
import type { Logger } from "../../shared/logger";
import { configured } from "../configured";
import type { Services } from "../services";
import { sqlState, type PgCluster } from "./cluster";
import {
  countPgDatabases,
  countPgUsers,
  deletePgDatabaseRow,
  deletePgUserRow,
  findPgDatabase,
  findPgUser,
  insertPgDatabase,
  insertPgUser,
  listPgDatabases,
  listPgUsers,
  pgUserDatabaseRows,
  setPgDatabaseOwner,
  setPgUserPassword,
  type PgDatabaseListing,
  type PgUserListing,
} from "./queries";
import type { Db } from "../../shared/db";
import { lockUser } from "../core/locks";
import { audit, type Person } from "../audit/record";
import { enforceQuota } from "../quotas/limits";
import { generatePassword, scramVerifier } from "./scram";
import { recordEvent } from "../webhooks/outbox";
import { presentPgDatabase, presentPgUser } from "./present";

/*
 * How KWS's rows and the cluster stay in agreement.
 *
 * Create: the row is inserted in a transaction (after locking the person's users row, so the
 * limit check cannot race), then the cluster step runs, then the transaction commits. A failed
 * cluster step rolls the row back; a failed commit after a successful cluster step undoes the
 * cluster step (best effort). A process killed mid-way leaves at most an object on the cluster
 * without a row (killed after the cluster step, before the commit).
 *
 * Delete: inside a transaction (same lock), the cluster step runs first, then the rows are
 * deleted, then it commits. A failed cluster step leaves both sides as they were; a process killed
 * mid-way leaves at most a row whose object is gone.
 *
 * Every cluster step is idempotent, and the next create or delete of the same name repairs a
 * leftover:
 * - object on the cluster, no row: it is adopted by the next create only when it is marked as the
 *   same person's (cluster.ts: the `kws:owner=` comment). It was made for them by an operation that
 *   did not finish, so they lose nothing and learn nothing new by getting it. An object marked for
 *   another person (their interrupted create, or an account deleted since) could hold that
 *   person's data: it is never adopted, dropped or handed over, the name stays taken and the
 *   drift check lists it for an administrator. An unmarked object (not KWS's) is never touched.
 *   The next delete of that name by its person drops it (and answers 204).
 * - row, no object: the next delete removes the row; the next create by the same person makes
 *   the object again (a new password for a user) under the existing row.
 */

export const NOT_CONFIGURED =
  "managed PostgreSQL is not configured on this KWS: an administrator must set PG_SERVICE_URL to an admin connection string of the service cluster (e.g. postgres://kws_admin:secret@pg.example.org:5432/postgres)";

export interface PgContext {
  cluster: PgCluster;
  box: SecretBox;
  service: PgServiceConfig;
}

/** The cluster and the secret box, or 503 naming what is missing. */
export function pgContext(s: Services): PgContext {
  const cluster = configured(s.pgCluster, NOT_CONFIGURED);
  const service = configured(s.config.pgService, NOT_CONFIGURED);
  return { cluster, service, box: configured(s.secretBox, "this deployment cannot store passwords: KWS_SECRET_KEY and the Node control plane are needed") };
}

const issue = (path: string, message: string) => ({ issues: [{ path, message }] });
const taken = (what: string) => new AppError("conflict", `name: this ${what} name is taken`, issue("name", "is taken; choose another name"));
const notFound = (what: string) => new AppError("not_found", `no ${what} of yours with that name`);

const NETWORK = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "CONNECT_TIMEOUT", "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED"]);

/** A cluster failure as the API reports it; details go to the log, not to the person. */
function clusterError(err: unknown, log: Logger): unknown {
  if (err instanceof AppError) return err;
  const state = sqlState(err);
  const code = (err as { code?: unknown } | undefined)?.code;
  if (state === "42710" || state === "42P04" || state === "23505") {
    return new AppError("conflict", "name: that name was just taken on the cluster", issue("name", "is taken"));
  }
  if (state === "55006") return new AppError("conflict", "the database is in use; try again");
  if (state === "2BP01") return new AppError("conflict", "the database user still owns objects outside its databases; an administrator must remove them");
  if (state === undefined && !(typeof code === "string" && NETWORK.has(code))) return err;
  log.error("pg cluster step failed", { err, sqlState: state, code });
  if (state === undefined || state.startsWith("08") || state === "57P03" || state === "53300") {
    return new AppError("unavailable", "the PostgreSQL service cluster cannot be reached; try again later");
  }
  if (state === "28P01" || state === "28000") return new AppError("unavailable", "KWS cannot sign in to the PostgreSQL service cluster (check PG_SERVICE_URL)");
  return new AppError("unavailable", `the PostgreSQL service cluster refused the operation (SQLSTATE ${state}); try again later`);
}

/** Runs one cluster step, turning its failures into API errors. */
export const step = async <T>(log: Logger, work: Promise<T>): Promise<T> => {
  try {
    return await work;
  } catch (err) {
    throw clusterError(err, log);
  }
};

const passwordContext = (name: string) => `pg_user:${name}`;

function hostForUri(host: string) {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** `postgresql://user:password@host:port/database`, every part encoded. */
export function connectionUri(service: PgServiceConfig, user: string, password: string, database = ""): string {
  return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${hostForUri(service.publicHost)}:${service.publicPort}/${encodeURIComponent(database)}`;
}

async function assertNotAdmin(ctx: PgContext, log: Logger, name: string) {
  if (name === (await step(log, ctx.cluster.adminName()))) throw new AppError("invalid", "name: is reserved", issue("name", "is reserved"));
}

export async function listUsers(s: Services, userId: string): Promise<{ service: PgServiceConfig; users: PgUserListing[] }> {
  const { service } = pgContext(s);
  return { service, users: await listPgUsers(s.db, userId) };
}

export async function listDatabases(s: Services, userId: string): Promise<{ service: PgServiceConfig; databases: PgDatabaseListing[] }> {
  const { service } = pgContext(s);
  return { service, databases: await listPgDatabases(s.db, userId) };
}

export interface CreatedUser {
  user: PgUserListing;
  password: string;
  service: PgServiceConfig;
}

export async function createUser(s: Services, log: Logger, who: Person, input: { name: string; password?: string }): Promise<CreatedUser> {
  const { userId } = who;
  const ctx = pgContext(s);
  const { cluster } = ctx;
  const { name } = input;
  await assertNotAdmin(ctx, log, name);
  const password = input.password ?? generatePassword();
  const sealed = await ctx.box.seal(password, passwordContext(name));
  const verifier = await scramVerifier(password);
  let created = false;
  try {
    const user = await s.db.transaction(async (tx) => {
      await lockUser(tx, userId);
      const existing = await findPgUser(tx, name);
      if (existing) {
        if (existing.userId !== userId) throw taken("database user");
        if (await step(log, cluster.role(name))) {
          throw new AppError("conflict", "name: you already have a database user with this name", issue("name", "you already have a database user with this name"));
        }
        // Repair: the row outlived its role (an interrupted delete); the role's databases went with it.
        await setPgUserPassword(tx, existing.id, sealed);
        const databases: string[] = [];
        for (const d of await pgUserDatabaseRows(tx, existing.id)) {
          if (await step(log, cluster.database(d.name))) databases.push(d.name);
          else await deletePgDatabaseRow(tx, d.id);
        }
        await step(log, cluster.createRole(name, verifier, userId));
        created = true;
        await audit(tx, who, { action: "pg.user.create", target: { type: "pg_user", id: name }, detail: { repaired: true } });
        log.warn("pg user repaired: role made again for a row without one", { userId, name });
        const repaired = { name, createdAt: existing.createdAt, databases };
        await recordEvent(tx, userId, "pg.user.created", presentPgUser(repaired));
        return repaired;
      }
      await enforceQuota(tx, s.config, userId, "pgUsers", () => countPgUsers(tx, userId));
      const row = await insertPgUser(tx, { userId, name, passwordEncrypted: sealed });
      await audit(tx, who, { action: "pg.user.create", target: { type: "pg_user", id: name } });
      const role = await step(log, cluster.role(name));
      if (!role) {
        await step(log, cluster.createRole(name, verifier, userId));
        created = true;
      } else if (role.ownerId === userId && !role.superuser) {
        await step(log, cluster.adoptRole(name, verifier, userId));
        log.warn("pg user repaired: adopted this person's role left on the cluster without a row", { userId, name });
      } else {
        throw taken("database user");
      }
      const made = { name, createdAt: row.createdAt, databases: [] };
      await recordEvent(tx, userId, "pg.user.created", presentPgUser(made));
      return made;
    });
    log.info("pg user created", { userId, name });
    return { user, password, service: ctx.service };
  } catch (err) {
    if (created) {
      // The role exists but the row did not commit: take the role back so both sides agree.
      await cluster.dropRole(name).catch((e: unknown) => log.error("pg user rollback failed; the drift check will list it", { name, err: e }));
    }
    if (!(err instanceof AppError) && uniqueViolation(err) !== undefined) throw taken("database user");
    throw err;
  }
}

export async function revealPassword(s: Services, userId: string, name: string) {
  const ctx = pgContext(s);
  const row = await findPgUser(s.db, name);
  if (!row || row.userId !== userId) throw notFound("database user");
  try {
    return { password: await ctx.box.open(row.passwordEncrypted, passwordContext(name)), service: ctx.service };
  } catch (err) {
    if (err instanceof SecretBoxError) {
      throw new AppError("internal", "the stored password cannot be decrypted: KWS_SECRET_KEY differs from the key it was stored with");
    }
    throw err;
  }
}

interface OwnedKind {
  /** How deletion speaks of it: to the person, in the logs, and what it is on the cluster. */
  what: string;
  /** Its audit action and target type. */
  action: string;
  targetType: string;
  logAs: string;
  object: string;
  find: (cluster: PgCluster, name: string) => Promise<{ ownerId: string | null; superuser?: boolean } | undefined>;
  drop: (cluster: PgCluster, name: string) => Promise<void>;
}

const OWNED: Record<"user" | "database", OwnedKind> = {
  user: { what: "database user", action: "pg.user.delete", targetType: "pg_user", logAs: "pg user", object: "role", find: (c, name) => c.role(name), drop: (c, name) => c.dropRole(name) },
  database: { what: "database", action: "pg.database.delete", targetType: "pg_database", logAs: "pg database", object: "database", find: (c, name) => c.database(name), drop: (c, name) => c.dropDatabase(name) },
};

/**
 * What deleting a database user and a database share: the row and the cluster's object may each be
 * missing (an interrupted create), only the person's own object is dropped (never a superuser), and
 * a row that names someone else's object loses the row only. `deleteRows` runs in the transaction,
 * after the drop.
 */
async function deleteOwned<R extends { id: string; userId: string }>(
  s: Services,
  log: Logger,
  who: Person,
  name: string,
  kind: OwnedKind,
  findRow: (db: Db, name: string) => Promise<R | undefined>,
  deleteRows: (tx: Db, row: R) => Promise<void>,
): Promise<void> {
  const { userId } = who;
  const ids = { userId, name };
  const target = { type: kind.targetType, id: name };
  const { cluster } = pgContext(s);
  const row = await findRow(s.db, name);
  if (row && row.userId !== userId) throw notFound(kind.what);
  const found = await step(log, kind.find(cluster, name));
  const ours = found !== undefined && found.ownerId === userId && !found.superuser;
  if (!row) {
    if (!ours) throw notFound(kind.what);
    // Repair: this person's object left on the cluster by an interrupted create.
    await step(log, kind.drop(cluster, name));
    await audit(s.db, who, { action: kind.action, target, detail: { repaired: true } });
    log.warn(`${kind.logAs} repaired: dropped this person's ${kind.object} that had no row`, ids);
    return;
  }
  await s.db.transaction(async (tx) => {
    await lockUser(tx, userId);
    if (ours) await step(log, kind.drop(cluster, name));
    else if (found) log.warn(`${kind.logAs} row names a ${kind.object} that is not this person's; it is left alone`, ids);
    await deleteRows(tx, row);
    await audit(tx, who, { action: kind.action, target });
  });
  log.info(`${kind.logAs} deleted`, ids);
}

export async function deleteUser(s: Services, log: Logger, who: Person, name: string): Promise<void> {
  const { userId } = who;
  const { cluster } = pgContext(s);
  await deleteOwned(s, log, who, name, OWNED.user, findPgUser, async (tx, row) => {
    // Databases of the row that another of this person's roles owns (none unless repaired oddly).
    const databases = await pgUserDatabaseRows(tx, row.id);
    for (const db of databases) {
      const found = await step(log, cluster.database(db.name));
      if (found && found.ownerId === userId) await step(log, cluster.dropDatabase(db.name));
    }
    await deletePgUserRow(tx, row.id);
    // Its databases went with it (dropped with the role, their rows by the cascade).
    for (const db of databases) await recordEvent(tx, userId, "pg.database.deleted", presentPgDatabase({ name: db.name, owner: row.name, createdAt: db.createdAt }));
    await recordEvent(tx, userId, "pg.user.deleted", presentPgUser({ name: row.name, createdAt: row.createdAt, databases: databases.map((d) => d.name) }));
  });
}

export interface CreatedDatabase {
  database: PgDatabaseListing;
  password: string;
  service: PgServiceConfig;
}

export async function createDatabase(s: Services, log: Logger, who: Person, input: { name: string; owner: string }): Promise<CreatedDatabase> {
  const { userId } = who;
  const ctx = pgContext(s);
  const { cluster } = ctx;
  const { name, owner } = input;
  await assertNotAdmin(ctx, log, name);
  let created = false;
  try {
    const result = await s.db.transaction(async (tx) => {
      await lockUser(tx, userId);
      const ownerRow = await findPgUser(tx, owner);
      if (!ownerRow || ownerRow.userId !== userId) {
        throw new AppError("invalid", "owner: must be one of your database users", issue("owner", "must be one of your database users"));
      }
      const ownerRole = await step(log, cluster.role(owner));
      if (!ownerRole || ownerRole.ownerId !== userId || ownerRole.superuser) {
        throw new AppError("conflict", "owner: this database user is missing on the cluster; create it again to repair it", issue("owner", "is missing on the cluster; create it again to repair it"));
      }
      const existing = await findPgDatabase(tx, name);
      let createdAt: Date;
      if (existing) {
        if (existing.userId !== userId) throw taken("database");
        if (await step(log, cluster.database(name))) {
          throw new AppError("conflict", "name: you already have a database with this name", issue("name", "you already have a database with this name"));
        }
        // Repair: the row outlived its database (an interrupted delete).
        await setPgDatabaseOwner(tx, existing.id, ownerRow.id);
        await step(log, cluster.createDatabase(name, owner, userId));
        created = true;
        createdAt = existing.createdAt;
        await audit(tx, who, { action: "pg.database.create", target: { type: "pg_database", id: name }, detail: { owner, repaired: true } });
        log.warn("pg database repaired: made again for a row without one", { userId, name });
      } else {
        await enforceQuota(tx, s.config, userId, "pgDatabases", () => countPgDatabases(tx, userId));
        const row = await insertPgDatabase(tx, { userId, pgUserId: ownerRow.id, name });
        await audit(tx, who, { action: "pg.database.create", target: { type: "pg_database", id: name }, detail: { owner } });
        createdAt = row.createdAt;
        const found = await step(log, cluster.database(name));
        if (!found) {
          await step(log, cluster.createDatabase(name, owner, userId));
          created = true;
        } else if (found.ownerId === userId) {
          await step(log, cluster.adoptDatabase(name, owner, userId));
          log.warn("pg database repaired: adopted this person's database left on the cluster without a row", { userId, name });
        } else {
          throw taken("database");
        }
      }
      await recordEvent(tx, userId, "pg.database.created", presentPgDatabase({ name, owner, createdAt }));
      return { database: { name, owner, createdAt }, sealed: ownerRow.passwordEncrypted };
    });
    log.info("pg database created", { userId, name, owner });
    const password = await ctx.box.open(result.sealed, passwordContext(owner)).catch((err: unknown) => {
      log.error("pg owner password cannot be decrypted", { name: owner, err });
      return "";
    });
    return { database: result.database, password, service: ctx.service };
  } catch (err) {
    if (created) {
      await cluster.dropDatabase(name).catch((e: unknown) => log.error("pg database rollback failed; the drift check will list it", { name, err: e }));
    }
    if (!(err instanceof AppError) && uniqueViolation(err) !== undefined) throw taken("database");
    throw err;
  }
}

export async function deleteDatabase(s: Services, log: Logger, who: Person, name: string): Promise<void> {
  await deleteOwned(s, log, who, name, OWNED.database, findPgDatabase, async (tx, row) => {
    await deletePgDatabaseRow(tx, row.id);
    await recordEvent(tx, who.userId, "pg.database.deleted", presentPgDatabase(row));
  });
}

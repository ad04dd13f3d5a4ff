import postgres from "postgres";

/**
 * The managed-PostgreSQL service cluster, driven over an admin connection (PG_SERVICE_URL).
 *
 * DDL cannot take bind parameters, so every statement is built by the server:
 * `select format('CREATE ROLE %I ...', $1, ...)` quotes identifiers (%I) and literals (%L), and the
 * text it returns is executed. Nothing a person typed is ever concatenated into SQL here.
 * Passwords arrive as SCRAM-SHA-256 verifiers (scram.ts), never as plaintext.
 *
 * Which roles are KWS's: each role KWS creates carries the comment `kws:owner=<user id>`, written in
 * the same cluster transaction as the role. A managed role cannot change it (COMMENT ON ROLE needs
 * CREATEROLE, which it lacks), nor rename itself or its databases, nor give a database away
 * (both need CREATEDB). A database is KWS's when its owner is; its own comment is for people only.
 */
export const ROLE_CONNECTION_LIMIT = 20;
/**
 * Databases every cluster has and PUBLIC may connect to by default. A managed role connected to one
 * sees every role and database and their owners (pg_roles, pg_database are cluster-wide).
 */
export const MAINTENANCE_DATABASES = ["postgres", "template1"] as const;
const MARKER = /^kws:owner=([0-9a-f-]{36})$/;
export const ownerMarker = (userId: string) => `kws:owner=${userId}`;

export interface ClusterRole {
  name: string;
  /** The KWS user the role was made for; null when the role is not KWS's. */
  ownerId: string | null;
  superuser: boolean;
}

export interface ClusterDatabase {
  name: string;
  /** The owning role. */
  owner: string;
  /** The KWS user the owning role was made for; null when it is not KWS's. */
  ownerId: string | null;
}

export interface PgClusterOptions {
  /** Admin connections kept open. */
  max?: number;
  connectionLimit?: number;
}

type Runner = postgres.Sql | postgres.TransactionSql;

const markerOwner = (comment: string | null | undefined) => comment?.match(MARKER)?.[1] ?? null;

/** Builds a statement on the server with format() and runs it. */
async function ddl(sql: Runner, template: string, ...args: string[]): Promise<void> {
  const placeholders = args.map((_, i) => `, $${i + 2}::text`).join("");
  const [row] = await sql.unsafe<{ q: string }[]>(`select format($1::text${placeholders}) as q`, [template, ...args]);
  await sql.unsafe(row!.q);
}

/** SQLSTATE of a server error, if it is one. */
export function sqlState(err: unknown): string | undefined {
  return err && typeof err === "object" && (err as { name?: string }).name === "PostgresError"
    ? String((err as { code?: unknown }).code)
    : undefined;
}

const ignore = (...codes: string[]) => (err: unknown) => {
  if (!codes.includes(sqlState(err) ?? "")) throw err;
};

export class PgCluster {
  private readonly sql: postgres.Sql;
  private admin?: Promise<string>;
  private configured?: Promise<void>;
  readonly connectionLimit: number;

  constructor(
    private readonly url: string,
    options: PgClusterOptions = {},
  ) {
    // postgres() connects at the first query: configuring the cluster costs nothing until it is used.
    this.sql = postgres(url, { max: options.max ?? 4, idle_timeout: 30, connect_timeout: 10, onnotice: () => {} });
    this.connectionLimit = options.connectionLimit ?? ROLE_CONNECTION_LIMIT;
  }

  /**
   * Managed roles reach their own databases only: CONNECT on the maintenance databases is revoked
   * from PUBLIC (the admin role connects as superuser regardless). Once per process, retried after
   * a failure; every role is made or taken over after it, and the start runs it too.
   */
  configure(): Promise<void> {
    this.configured ??= (async () => {
      const present = await this.sql<{ name: string }[]>`select datname as name from pg_database where datname in ${this.sql(MAINTENANCE_DATABASES)}`;
      for (const { name } of present) await ddl(this.sql, "REVOKE CONNECT ON DATABASE %I FROM PUBLIC", name);
    })();
    this.configured.catch(() => (this.configured = undefined));
    return this.configured;
  }

  /** The role KWS connects as (reserved: nobody may create or drop it). */
  adminName(): Promise<string> {
    this.admin ??= this.sql<{ name: string }[]>`select current_user as name`.then((r) => r[0]!.name);
    this.admin.catch(() => (this.admin = undefined));
    return this.admin;
  }

  async role(name: string): Promise<ClusterRole | undefined> {
    const [row] = await this.sql<{ name: string; comment: string | null; superuser: boolean }[]>`
      select rolname as name, shobj_description(oid, 'pg_authid') as comment, rolsuper as superuser
      from pg_roles where rolname = ${name}`;
    return row && { name: row.name, ownerId: markerOwner(row.comment), superuser: row.superuser };
  }

  /** Every KWS role on the cluster. */
  async roles(): Promise<ClusterRole[]> {
    const rows = await this.sql<{ name: string; comment: string | null; superuser: boolean }[]>`
      select rolname as name, shobj_description(oid, 'pg_authid') as comment, rolsuper as superuser
      from pg_roles where shobj_description(oid, 'pg_authid') like 'kws:%' order by rolname`;
    return rows.map((r) => ({ name: r.name, ownerId: markerOwner(r.comment), superuser: r.superuser }));
  }

  async database(name: string): Promise<ClusterDatabase | undefined> {
    const [row] = await this.sql<{ name: string; owner: string; comment: string | null }[]>`
      select d.datname as name, r.rolname as owner, shobj_description(r.oid, 'pg_authid') as comment
      from pg_database d join pg_roles r on r.oid = d.datdba where d.datname = ${name}`;
    return row && { name: row.name, owner: row.owner, ownerId: markerOwner(row.comment) };
  }

  /** Every database whose owner is a KWS role. */
  async databases(): Promise<ClusterDatabase[]> {
    const rows = await this.sql<{ name: string; owner: string; comment: string | null }[]>`
      select d.datname as name, r.rolname as owner, shobj_description(r.oid, 'pg_authid') as comment
      from pg_database d join pg_roles r on r.oid = d.datdba
      where shobj_description(r.oid, 'pg_authid') like 'kws:%' order by d.datname`;
    return rows.map((r) => ({ name: r.name, owner: r.owner, ownerId: markerOwner(r.comment) }));
  }

  private attributes(verifier: string, name: string) {
    return {
      template:
        "ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT %s PASSWORD %L",
      args: [name, String(Math.trunc(this.connectionLimit)), verifier],
    };
  }

  /** A login role with no way up, marked as `ownerId`'s, in one transaction. */
  createRole(name: string, verifier: string, ownerId: string): Promise<void> {
    return this.writeRole("CREATE", name, verifier, ownerId);
  }

  /** Takes over a role already marked as `ownerId`'s: the same attributes and a new password. */
  adoptRole(name: string, verifier: string, ownerId: string): Promise<void> {
    return this.writeRole("ALTER", name, verifier, ownerId);
  }

  private async writeRole(verb: "CREATE" | "ALTER", name: string, verifier: string, ownerId: string): Promise<void> {
    await this.configure();
    const { template, args } = this.attributes(verifier, name);
    await this.sql.begin(async (tx) => {
      await ddl(tx, `${verb} ${template}`, ...args);
      await ddl(tx, "COMMENT ON ROLE %I IS %L", name, ownerMarker(ownerId));
    });
  }

  /**
   * Removes a role and everything it owns: no new logins, its databases dropped with their
   * sessions, its other sessions ended, its privileges elsewhere revoked, then the role.
   * Each step tolerates "already gone", so a repeated call finishes an interrupted one.
   */
  async dropRole(name: string): Promise<void> {
    await ddl(this.sql, "ALTER ROLE %I NOLOGIN", name).catch(ignore("42704"));
    const owned = await this.sql<{ name: string }[]>`
      select d.datname as name from pg_database d join pg_roles r on r.oid = d.datdba where r.rolname = ${name}`;
    for (const { name: db } of owned) await this.dropDatabase(db);
    // Waits (up to 5 s each) for the sessions to end (PostgreSQL 14+).
    await this.sql`select pg_terminate_backend(pid, 5000) from pg_stat_activity where usename = ${name} and pid <> pg_backend_pid()`;
    await this.sql
      .begin(async (tx) => {
        await ddl(tx, "DROP OWNED BY %I", name);
        await ddl(tx, "DROP ROLE IF EXISTS %I", name);
      })
      .catch(ignore("42704"));
  }

  /**
   * A database owned by `owner`, reachable by its owner only. It is created from template0
   * (which nobody can connect to, so nobody can block the copy) with connections off until the
   * privileges are set, so there is no moment at which PUBLIC could connect. A failure after the
   * CREATE drops it again, leaving the cluster as it was.
   */
  async createDatabase(name: string, owner: string, ownerId: string): Promise<void> {
    await ddl(this.sql, "CREATE DATABASE %I WITH OWNER %I TEMPLATE template0 ALLOW_CONNECTIONS false", name, owner);
    try {
      await this.secureDatabase(name, owner, ownerId);
    } catch (err) {
      await this.dropDatabase(name).catch(() => {});
      throw err;
    }
  }

  /** Takes over a database whose owner is already `ownerId`'s, as if just created for `owner`. */
  async adoptDatabase(name: string, owner: string, ownerId: string): Promise<void> {
    await ddl(this.sql, "ALTER DATABASE %I WITH ALLOW_CONNECTIONS false", name);
    await ddl(this.sql, "ALTER DATABASE %I OWNER TO %I", name, owner);
    await this.secureDatabase(name, owner, ownerId);
  }

  private async secureDatabase(name: string, owner: string, ownerId: string): Promise<void> {
    await this.sql.begin(async (tx) => {
      await ddl(tx, "REVOKE ALL ON DATABASE %I FROM PUBLIC", name);
      await ddl(tx, "GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I", name, owner);
      await ddl(tx, "COMMENT ON DATABASE %I IS %L", name, ownerMarker(ownerId));
    });
    await ddl(this.sql, "ALTER DATABASE %I WITH ALLOW_CONNECTIONS true", name);
    // The public schema belongs to pg_database_owner, whose rights a NOINHERIT role does not use:
    // the owner gets the schema itself, and PUBLIC no CREATE there (already so from PostgreSQL 15).
    const inside = postgres(this.url, { database: name, max: 1, connect_timeout: 10, onnotice: () => {} });
    try {
      await inside.begin(async (tx) => {
        await ddl(tx, "ALTER SCHEMA public OWNER TO %I", owner);
        await ddl(tx, "REVOKE CREATE ON SCHEMA public FROM PUBLIC");
      });
    } finally {
      await inside.end({ timeout: 5 });
    }
  }

  /** Drops a database, ending its sessions (FORCE); absent is fine. */
  async dropDatabase(name: string): Promise<void> {
    await ddl(this.sql, "DROP DATABASE IF EXISTS %I WITH (FORCE)", name);
  }

  async ping(): Promise<void> {
    await this.sql`select 1`;
  }

  close(): Promise<void> {
    return this.sql.end({ timeout: 5 });
  }
}

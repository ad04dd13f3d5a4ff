import { spawn } from "node:child_process";
import postgres from "postgres";
import { startHarness, type Harness } from "../support/harness";
import { startPgCluster, type PgTestCluster } from "../support/pg-cluster";

/** Fixed test key (32 bytes, base64): tests never write $KWS_DATA_DIR/secret.key. */
export const TEST_SECRET_KEY = Buffer.alloc(32, 0x5a).toString("base64");

/** Connections a test opened as managed users; closed at the end of the file. */
export class Connections {
  private readonly open: postgres.Sql[] = [];
  constructor(private readonly cluster: PgTestCluster) {}

  /** A connection as `user` with `password` to `database`, after one round trip (so login is proven). */
  async as(user: string, password: string, database: string): Promise<postgres.Sql> {
    const sql = postgres({
      host: this.cluster.host,
      port: this.cluster.port,
      user,
      pass: password,
      database,
      max: 1,
      connect_timeout: 10,
      idle_timeout: 0,
      onnotice: () => {},
    });
    this.open.push(sql);
    try {
      await sql`select 1`;
    } catch (err) {
      await sql.end({ timeout: 1 }).catch(() => {});
      throw err;
    }
    return sql;
  }

  /** The SQLSTATE a login fails with, or "ok". */
  async loginResult(user: string, password: string, database: string): Promise<string> {
    try {
      const sql = await this.as(user, password, database);
      await sql.end({ timeout: 1 });
      return "ok";
    } catch (err) {
      return String((err as { code?: unknown }).code ?? (err as Error).message);
    }
  }

  /**
   * Whether the cluster takes `password` for `user`, for a role with no database to go to: the
   * password is checked before the database, so the maintenance database `postgres` answers a
   * right one with 42501 (managed roles may not connect there) and a wrong one with 28P01.
   */
  async passwordAccepted(user: string, password: string): Promise<boolean> {
    const result = await this.loginResult(user, password, "postgres");
    if (result === "42501") return true;
    if (result === "28P01") return false;
    throw new Error(`a login of ${user} to postgres answered ${result}, neither 42501 nor 28P01`);
  }

  async closeAll() {
    await Promise.all(this.open.splice(0).map((s) => s.end({ timeout: 1 }).catch(() => {})));
  }
}

/** The SQLSTATE a statement fails with, or "ok". */
export async function sqlError(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
    return "ok";
  } catch (err) {
    return String((err as { code?: unknown }).code ?? (err as Error).message);
  }
}

/** psql (libpq, which applies SASLprep itself) logging in with the password from the environment. */
export function psqlLogin(cluster: PgTestCluster, user: string, password: string, database: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "/usr/lib/postgresql/15/bin/psql",
      ["-X", "-h", cluster.host, "-p", String(cluster.port), "-U", user, "-d", database, "-tAc", "select current_user"],
      { env: { PATH: process.env.PATH ?? "", PGPASSWORD: password, PGCONNECT_TIMEOUT: "10" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code: code ?? 1, out: out.trim() }));
  });
}

/** An admin connection of the test itself, for looking at the cluster. */
export function adminSql(cluster: PgTestCluster): postgres.Sql {
  return postgres(cluster.adminUrl, { max: 2, onnotice: () => {} });
}

export async function clusterState(sql: postgres.Sql) {
  const roles = (await sql<{ rolname: string }[]>`select rolname from pg_roles where rolname !~ '^pg_' order by 1`).map((r) => r.rolname);
  const databases = (await sql<{ datname: string }[]>`select datname from pg_database order by 1`).map((r) => r.datname);
  return { roles, databases };
}

/** A throwaway service cluster and a control plane pointed at it, with an admin connection to look inside. */
export interface PgService {
  cluster: PgTestCluster;
  h: Harness;
  admin: postgres.Sql;
  conns: Connections;
  close(): Promise<void>;
}

export async function startPgService(env: Record<string, string> = {}): Promise<PgService> {
  const cluster = await startPgCluster();
  const h = await startHarness({ env: { PG_SERVICE_URL: cluster.adminUrl, KWS_SECRET_KEY: TEST_SECRET_KEY, ...env } });
  const admin = adminSql(cluster);
  const conns = new Connections(cluster);
  return {
    cluster,
    h,
    admin,
    conns,
    close: async () => {
      await conns.closeAll();
      await admin.end({ timeout: 1 });
      await h.close();
      await cluster.stop();
    },
  };
}

import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import * as schema from "./schema";

export { schema };
/** What both drivers (postgres-js and PGlite) give: the queries are written once against this. */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;
/** What a query needs: the database or a transaction of it. */
export type Db = Pick<Database, "select" | "insert" | "update" | "delete" | "execute">;

export interface DatabaseHandle {
  db: Database;
  kind: "postgres" | "pglite";
  ping(): Promise<void>;
  /** Calls `onNotify` on each NOTIFY of `channel` (on a connection of its own); answers how to stop. */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** The rows of a raw `execute`: postgres-js gives them as an array, PGlite as `{ rows }`. */
export function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

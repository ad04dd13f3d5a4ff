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
  close(): Promise<void>;
}

import { fileURLToPath } from "node:url";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import type { DatabaseHandle } from "./index";

export const migrationsFolder = fileURLToPath(new URL("../../drizzle", import.meta.url));

/** Applies drizzle/ migrations; drizzle's journal table makes this safe to run at every start. */
export async function migrateDatabase(handle: DatabaseHandle): Promise<void> {
  // The two migrators differ only in the driver type they accept.
  const run = handle.kind === "pglite" ? migratePglite : migratePostgres;
  await run(handle.db as never, { migrationsFolder });
}

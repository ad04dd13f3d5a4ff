/**
 * `npm run ops -- <command>`: operator commands against this KWS's configuration (same
 * environment as `npm start`).
 *
 *   pg drift [--json]   roles and databases that exist on one side only (KWS's rows or the
 *                       managed-PostgreSQL cluster), or that disagree; exit 0 either way, 1 when
 *                       the check itself failed. Same list as GET /api/v1/pg/drift.
 *
 * With the embedded database (no DATABASE_URL) stop `npm start` first: PGlite allows one process.
 */
import { join } from "node:path";
import type { DatabaseHandle } from "../shared/db";
import { migrateDatabase } from "../shared/db/migrate";
import { openPglite } from "../shared/db/pglite";
import { connectPostgres } from "../shared/db/postgres";
import { PgCluster } from "../functions/pg/cluster";
import { formatDrift, pgDrift } from "../functions/pg/drift";
import { NOT_CONFIGURED } from "../functions/pg/service";
import { configOrExit } from "../functions/process";

const USAGE = `usage: npm run ops -- pg drift [--json]`;

async function pgDriftCommand(json: boolean): Promise<number> {
  const config = configOrExit();
  if (!config.pgService) {
    console.error(NOT_CONFIGURED);
    return 1;
  }
  const database: DatabaseHandle = config.databaseUrl
    ? connectPostgres(config.databaseUrl, { max: 2 })
    : await openPglite(join(config.dataDir, "pglite"));
  const cluster = new PgCluster(config.pgService.url, { max: 2 });
  try {
    await migrateDatabase(database);
    const drift = await pgDrift(database.db, cluster);
    console.log(json ? JSON.stringify({ drift }, null, 2) : formatDrift(drift));
    return 0;
  } finally {
    await cluster.close();
    await database.close();
  }
}

async function main(args: string[]): Promise<number> {
  const [area, command, ...rest] = args;
  if (area === "pg" && command === "drift" && rest.every((a) => a === "--json")) return pgDriftCommand(rest.includes("--json"));
  console.error(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`ops: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);

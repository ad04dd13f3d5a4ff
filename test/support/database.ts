import postgres from "postgres";
import type { DatabaseHandle } from "../../shared/db";
import { openPglite } from "../../shared/db/pglite";
import { connectPostgres } from "../../shared/db/postgres";

/**
 * A fresh, empty database for one test file: a new database on the PostgreSQL of DATABASE_URL
 * (test/run.ts always sets it; dropped afterwards). Outside the suite (a bench) without it: an
 * in-memory PGlite.
 */
export async function freshDatabase(): Promise<{ handle: DatabaseHandle; url?: string; drop(): Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) {
    const handle = await openPglite();
    return { handle, drop: () => handle.close() };
  }
  return freshPostgresDatabase(base);
}

/** A new, empty database on the server of `base` (an admin connection string). */
export async function freshPostgresDatabase(base: string): Promise<{ handle: DatabaseHandle; url: string; drop(): Promise<void> }> {
  const name = `kws_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  const handle = connectPostgres(url.toString());
  return {
    handle,
    url: url.toString(),
    drop: async () => {
      await handle.close();
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}

import { eq, sql } from "drizzle-orm";
import type { Db } from "../../shared/db";
import { users } from "../../shared/db/schema";
import { AppError } from "./errors";

/**
 * Serializes one person's operations on their resources (pg users, the instance): taken inside
 * each create/delete transaction, so two concurrent requests cannot both pass a check. NO KEY
 * UPDATE, not UPDATE: it must not block inserts elsewhere that only reference the user (foreign
 * keys take KEY SHARE).
 */
export async function lockUser(tx: Db, userId: string): Promise<void> {
  const rows = await tx.select({ id: users.id }).from(users).where(eq(users.id, userId)).for("no key update");
  // Deleted between authentication and here: nothing of theirs may be created any more.
  if (rows.length === 0) throw new AppError("unauthorized", "your account no longer exists");
}

// Any fixed number: the key of the advisory lock below.
const PLACEMENT_LOCK = 0x6b7773;

/** Serializes placement decisions until the transaction ends, so two deploys cannot both take a host's last room. */
export async function lockPlacement(tx: Db): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${PLACEMENT_LOCK})`);
}

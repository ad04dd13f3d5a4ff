import { and, desc, eq, isNull, type SQL } from "drizzle-orm";
import type { Db } from "../../shared/db";
import { apiTokens, type ApiToken } from "../../shared/db/schema";

export async function insertToken(
  db: Db,
  values: Pick<ApiToken, "userId" | "name" | "tokenHash" | "prefix" | "scope" | "expiresAt">,
): Promise<ApiToken> {
  const [row] = await db.insert(apiTokens).values(values).returning();
  return row!;
}

export function listTokens(db: Db, userId: string): Promise<ApiToken[]> {
  return db
    .select()
    .from(apiTokens)
    .where(and(eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt)))
    .orderBy(desc(apiTokens.createdAt));
}

async function revokeWhere(db: Db, userId: string, which: SQL, now: Date): Promise<string | undefined> {
  const rows = await db
    .update(apiTokens)
    .set({ revokedAt: now })
    .where(and(which, eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt)))
    .returning({ id: apiTokens.id });
  return rows[0]?.id;
}

/** Whether a live token of this user was revoked; someone else's token counts as absent. */
export async function revokeToken(db: Db, userId: string, id: string, now = new Date()): Promise<boolean> {
  return (await revokeWhere(db, userId, eq(apiTokens.id, id), now)) !== undefined;
}

/** Revokes the live token of this user with this hash: its id, if there was one. */
export function revokeTokenByHash(db: Db, userId: string, tokenHash: string, now = new Date()): Promise<string | undefined> {
  return revokeWhere(db, userId, eq(apiTokens.tokenHash, tokenHash), now);
}

import { and, desc, eq, isNull } from "drizzle-orm";
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

/** Whether a live token of this user was revoked; someone else's token counts as absent. */
export async function revokeToken(db: Db, userId: string, id: string, now = new Date()): Promise<boolean> {
  const rows = await db
    .update(apiTokens)
    .set({ revokedAt: now })
    .where(and(eq(apiTokens.id, id), eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt)))
    .returning({ id: apiTokens.id });
  return rows.length > 0;
}

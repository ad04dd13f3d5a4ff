import { and, eq, gt, isNull, lt, or } from "drizzle-orm";
import { hashToken } from "../crypto/tokens";
import type { Database } from "../db";
import { apiTokens } from "../db/schema";

export const API_TOKEN_PREFIX = "kws_";
// "Last used" is for people, not accounting: minute precision spares a write on every request.
const LAST_USED_PRECISION_MS = 60_000;

/** The user id a live (not revoked, not expired) API token belongs to. */
export async function apiTokenUserId(db: Database, token: string, now = new Date()): Promise<string | null> {
  if (!token.startsWith(API_TOKEN_PREFIX)) return null;
  const tokenHash = await hashToken(token);
  const [row] = await db
    .select({ id: apiTokens.id, userId: apiTokens.userId, lastUsedAt: apiTokens.lastUsedAt })
    .from(apiTokens)
    .where(
      and(
        eq(apiTokens.tokenHash, tokenHash),
        isNull(apiTokens.revokedAt),
        or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, now)),
      ),
    )
    .limit(1);
  if (!row) return null;
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > LAST_USED_PRECISION_MS) {
    const stale = new Date(now.getTime() - LAST_USED_PRECISION_MS);
    await db
      .update(apiTokens)
      .set({ lastUsedAt: now })
      .where(and(eq(apiTokens.id, row.id), or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, stale))));
  }
  return row.userId;
}

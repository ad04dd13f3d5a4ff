import { and, eq, gt, isNull, or } from "drizzle-orm";
import { hashToken } from "../crypto/tokens";
import type { Database } from "../db";
import { apiTokens } from "../db/schema";

export const API_TOKEN_PREFIX = "kws_";

/** The user id a live (not revoked, not expired) API token belongs to. */
export async function apiTokenUserId(db: Database, token: string, now = new Date()): Promise<string | null> {
  if (!token.startsWith(API_TOKEN_PREFIX)) return null;
  const tokenHash = await hashToken(token);
  const [row] = await db
    .update(apiTokens)
    .set({ lastUsedAt: now })
    .where(
      and(
        eq(apiTokens.tokenHash, tokenHash),
        isNull(apiTokens.revokedAt),
        or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, now)),
      ),
    )
    .returning({ userId: apiTokens.userId });
  return row?.userId ?? null;
}

import { and, eq, gt, isNull, lt, or } from "drizzle-orm";
import { hashToken } from "../crypto/tokens";
import type { Database } from "../db";
import { apiTokens, users, type User } from "../db/schema";

export const API_TOKEN_PREFIX = "kws_";
// "Last used" is for people, not accounting: minute precision spares a write on every request.
const LAST_USED_PRECISION_MS = 60_000;

/** The user a live (not revoked, not expired) API token belongs to, read with the token in one query. */
export async function apiTokenUser(db: Database, token: string, now = new Date()): Promise<User | null> {
  if (!token.startsWith(API_TOKEN_PREFIX)) return null;
  const tokenHash = await hashToken(token);
  const [row] = await db
    .select({ id: apiTokens.id, user: users, lastUsedAt: apiTokens.lastUsedAt })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
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
  return row.user;
}

import { and, eq, gt, isNull, lt, or, sql } from "drizzle-orm";
import { hashToken } from "../../shared/crypto/tokens";
import type { Database } from "../../shared/db";
import { coalesce } from "../../shared/db/coalesce";
import { perDatabase } from "../../shared/db/per-database";
import { apiTokens, users, type ApiTokenScope, type User } from "../../shared/db/schema";

export const API_TOKEN_PREFIX = "kws_";
// "Last used" is for people, not accounting: minute precision spares a write on every request.
const LAST_USED_PRECISION_MS = 60_000;

const liveTokens = perDatabase((db) =>
  db
    .select({ id: apiTokens.id, tokenHash: apiTokens.tokenHash, scope: apiTokens.scope, user: users, lastUsedAt: apiTokens.lastUsedAt })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(
      and(
        sql`${apiTokens.tokenHash} in (select jsonb_array_elements_text(${sql.placeholder("hashes")}::jsonb))`,
        isNull(apiTokens.revokedAt),
        or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, sql.placeholder("now"))),
      ),
    )
    .prepare("live_api_tokens"),
);

/** The requests that arrive together (a CLI or a webhook caller sending many) share one look-up. */
const liveToken = perDatabase((db) =>
  coalesce(async (hashes: string[]) => {
    const rows = await liveTokens(db).execute({ hashes: JSON.stringify(hashes), now: new Date().toISOString() });
    const byHash = new Map(rows.map((row) => [row.tokenHash, row]));
    return hashes.map((hash) => byHash.get(hash));
  }),
);

export interface LiveApiToken {
  id: string;
  scope: ApiTokenScope;
  user: User;
}

/** A live (not revoked, not expired) API token with the user it belongs to, read in one query. */
export async function liveApiToken(db: Database, token: string): Promise<LiveApiToken | null> {
  if (!token.startsWith(API_TOKEN_PREFIX)) return null;
  const row = await liveToken(db)(await hashToken(token));
  if (!row) return null;
  const now = new Date();
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > LAST_USED_PRECISION_MS) {
    const stale = new Date(now.getTime() - LAST_USED_PRECISION_MS);
    await db
      .update(apiTokens)
      .set({ lastUsedAt: now })
      .where(and(eq(apiTokens.id, row.id), or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, stale))));
  }
  return { id: row.id, scope: row.scope, user: row.user };
}

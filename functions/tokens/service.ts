import { audit, type Actor } from "../audit/record";
import { API_TOKEN_PREFIX } from "../auth/api-tokens";
import { hashToken, randomToken } from "../../shared/crypto/tokens";
import type { Database } from "../../shared/db";
import type { ApiToken, ApiTokenScope } from "../../shared/db/schema";
import { insertToken } from "./queries";

const DAY_MS = 24 * 60 * 60 * 1000;

/** A new API token of the user: the row (kept with the secret's hash only) and the secret, to show once. */
export async function issueToken(
  db: Database,
  values: { userId: string; name: string; scope: ApiTokenScope; expiresInDays?: number },
  who: Actor,
): Promise<{ token: ApiToken; secret: string }> {
  const secret = randomToken(API_TOKEN_PREFIX);
  const token = await db.transaction(async (tx) => {
    const row = await insertToken(tx, {
      userId: values.userId,
      name: values.name,
      tokenHash: await hashToken(secret),
      prefix: secret.slice(0, API_TOKEN_PREFIX.length + 6),
      scope: values.scope,
      expiresAt: values.expiresInDays ? new Date(Date.now() + values.expiresInDays * DAY_MS) : null,
    });
    await audit(tx, who, { action: "token.create", target: { type: "token", id: row.id }, subjectUserId: values.userId, detail: { name: values.name, scope: values.scope } });
    return row;
  });
  return { token, secret };
}

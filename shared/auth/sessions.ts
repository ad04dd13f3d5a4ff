import { hashToken, randomToken } from "../crypto/tokens";
import type { KV } from "../kv/port";

export const SESSION_COOKIE = "kws_session";
export const SESSION_TTL_SECONDS = 24 * 60 * 60;

const key = async (token: string) => `session:${await hashToken(token)}`;

/** Sessions live only in the KV, keyed by the hash of the cookie value. */
export async function createSession(kv: KV, userId: string): Promise<string> {
  const token = randomToken();
  await kv.set(await key(token), userId, { ttlSeconds: SESSION_TTL_SECONDS });
  return token;
}

export async function sessionUserId(kv: KV, token: string): Promise<string | null> {
  return kv.get(await key(token));
}

export async function destroySession(kv: KV, token: string): Promise<void> {
  await kv.del(await key(token));
}

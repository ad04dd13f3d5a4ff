import { hashToken, randomToken } from "../../shared/crypto/tokens";
import type { KV } from "../../shared/kv/port";

export const SESSION_COOKIE = "kws_session";
export const SESSION_TTL_SECONDS = 24 * 60 * 60;

const key = async (token: string) => `session:${await hashToken(token)}`;

/**
 * Sessions live only in the KV, keyed by the hash of the cookie value. Each holds its user and the
 * user's session generation (users.session_generation) at sign-in: a session counts only while the
 * two still agree, so raising the generation ends every session of that person in one write, and
 * checking it costs nothing (the request reads the user's row anyway).
 */
export interface Session {
  userId: string;
  generation: number;
}

export async function createSession(kv: KV, userId: string, generation: number): Promise<string> {
  const token = randomToken();
  await kv.set(await key(token), `${userId} ${generation}`, { ttlSeconds: SESSION_TTL_SECONDS });
  return token;
}

export async function readSession(kv: KV, token: string): Promise<Session | null> {
  const value = await kv.get(await key(token));
  if (!value) return null;
  const [userId, generation] = value.split(" ");
  // A session written before generations existed holds the user id alone: it belongs to generation 0.
  return { userId: userId!, generation: Number(generation ?? 0) };
}

/** Whether a session still counts for this user: no "sign out everywhere" or password change since it began. */
export const sessionCurrent = (session: Session, user: { sessionGeneration: number }) => session.generation === user.sessionGeneration;

export async function destroySession(kv: KV, token: string): Promise<void> {
  await kv.del(await key(token));
}

import type { Context } from "hono";
import { createSession, destroySession } from "../auth/sessions";
import { endSession, sessionCookie, setSessionCookie } from "../auth/cookies";
import type { AppEnv, AuthContext, AuthUser } from "../env";
import { personOf } from "../audit/record";
import { deleteAccount } from "./delete";
import { changePassword, endAllSessions } from "./service";

/**
 * The operations that end sessions, with what they mean for the session of the request itself;
 * the API routes and the pages both call these.
 */

/**
 * After the person's session generation was raised (every session ended), the browser that asked
 * keeps going on a new session of the new generation (its token is returned). A caller with an API
 * token has no session.
 */
async function renewSession<E extends AppEnv>(c: Context<E>, userId: string, generation: number): Promise<string | undefined> {
  const old = sessionCookie(c);
  const via: AuthContext["via"] | undefined = c.get("auth")?.via;
  if (via !== "session" || !old) return undefined;
  const { kv } = c.get("services");
  await destroySession(kv, old);
  const token = await createSession(kv, userId, generation);
  setSessionCookie(c, token);
  return token;
}

/** Other sessions end; this one continues. */
export async function changeOwnPassword<E extends AppEnv>(c: Context<E>, user: AuthUser, input: { currentPassword: string; newPassword: string }): Promise<void> {
  const generation = await changePassword(c.get("services"), c.get("log"), personOf(c), input);
  await renewSession(c, user.id, generation);
}

/** Every session ends, this one included. */
export async function signOutEverywhere<E extends AppEnv>(c: Context<E>, user: AuthUser): Promise<void> {
  await endAllSessions(c.get("services"), c.get("log"), personOf(c));
  await endSession(c);
}

export async function deleteOwnAccount<E extends AppEnv>(c: Context<E>, user: AuthUser, password: string): Promise<void> {
  // A fresh session lets the browser try again if the deletion stops part-way; once done it goes too.
  let renewed: string | undefined;
  await deleteAccount(c.get("services"), c.get("log"), personOf(c), password, async (generation) => {
    renewed = await renewSession(c, user.id, generation);
  });
  if (renewed) await destroySession(c.get("services").kv, renewed);
  await endSession(c);
}

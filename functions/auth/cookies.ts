import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { SESSION_COOKIE, SESSION_TTL_SECONDS, destroySession } from "./sessions";
import { cookiePrefix } from "../cookie-prefix";
import type { AppEnv } from "../env";

export function setSessionCookie<E extends AppEnv>(c: Context<E>, token: string) {
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: "Lax",
    secure: c.get("services").config.env === "production",
    path: "/",
    maxAge: SESSION_TTL_SECONDS,
    prefix: cookiePrefix(c),
  });
}

/** The session token this request carries, under the cookie's name for this deployment. */
export const sessionCookie = <E extends AppEnv>(c: Context<E>): string | undefined => getCookie(c, SESSION_COOKIE, cookiePrefix(c));

/** Ends the session of this request, in the KV and in the browser. */
export async function endSession<E extends AppEnv>(c: Context<E>) {
  const token = sessionCookie(c);
  if (token) await destroySession(c.get("services").kv, token);
  deleteCookie(c, SESSION_COOKIE, { path: "/", prefix: cookiePrefix(c) });
}

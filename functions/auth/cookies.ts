import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { SESSION_COOKIE, SESSION_TTL_SECONDS, destroySession } from "../../shared/auth/sessions";
import { cookiePrefix } from "../cookie-prefix";
import type { AppEnv } from "../env";

export function setSessionCookie(c: Context<AppEnv>, token: string) {
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: "Lax",
    secure: c.get("services").config.env === "production",
    path: "/",
    maxAge: SESSION_TTL_SECONDS,
    prefix: cookiePrefix(c),
  });
}

/** Ends the session of this request, in the KV and in the browser. */
export async function endSession(c: Context<AppEnv>) {
  const prefix = cookiePrefix(c);
  const token = getCookie(c, SESSION_COOKIE, prefix);
  if (token) await destroySession(c.get("services").kv, token);
  deleteCookie(c, SESSION_COOKIE, { path: "/", prefix });
}

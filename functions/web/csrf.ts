import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { constantTimeEqual } from "../../shared/crypto/encoding";
import { randomToken } from "../../shared/crypto/tokens";
import { AppError } from "../core/errors";
import { cookiePrefix } from "../cookie-prefix";
import type { AppEnv } from "../env";

export const CSRF_FIELD = "_csrf";
const CSRF_COOKIE = "kws_csrf";

/**
 * Double-submit token: the same random value in a cookie and in a hidden form field.
 * A cross-site form can send the cookie but cannot read it to fill the field.
 */
export function csrfToken(c: Context<AppEnv>): string {
  const existing = getCookie(c, CSRF_COOKIE, cookiePrefix(c));
  if (existing && existing.length >= 32) return existing;
  const token = randomToken();
  setCookie(c, CSRF_COOKIE, token, {
    httpOnly: true,
    sameSite: "Strict",
    secure: c.get("services").config.env === "production",
    path: "/",
    prefix: cookiePrefix(c),
  });
  return token;
}

export function verifyCsrf(c: Context<AppEnv>, submitted: unknown): void {
  const cookie = getCookie(c, CSRF_COOKIE, cookiePrefix(c));
  const enc = new TextEncoder();
  if (typeof submitted !== "string" || !cookie || !constantTimeEqual(enc.encode(cookie), enc.encode(submitted))) {
    throw new AppError("forbidden", "the form's security token is missing or wrong; reload the page and try again");
  }
}

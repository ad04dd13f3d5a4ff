import type { Context, MiddlewareHandler } from "hono";
import { liveApiToken } from "../auth/api-tokens";
import { readSession, sessionCurrent } from "../auth/sessions";
import { findUserById, isAdmin } from "../auth/users";
import type { User } from "../../shared/db/schema";
import { AppError } from "../core/errors";
import { sessionCookie } from "../auth/cookies";
import type { AppEnv, AuthContext, AuthUser } from "../env";

export function toAuthUser(user: User, admins: readonly string[]): AuthUser {
  return {
    id: user.id,
    email: user.email,
    username: user.username,
    firstName: user.firstName,
    lastName: user.lastName,
    verified: user.verifiedAt !== null,
    isAdmin: isAdmin(user, admins),
  };
}

/** The API token of an `Authorization: Bearer` header, if the request has one. */
export const bearerToken = (c: Context<AppEnv>): string | undefined => c.req.header("authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1];

async function resolve(c: Context<AppEnv>): Promise<AuthContext | undefined> {
  const { db, kv, config } = c.get("services");
  const bearer = bearerToken(c);
  let user: User | null | undefined = null;
  let via: AuthContext["via"] = "session";
  let scope: AuthContext["scope"] = "full";
  if (bearer) {
    const token = await liveApiToken(db, bearer);
    user = token?.user;
    via = "token";
    scope = token?.scope ?? "full";
  } else {
    const cookie = sessionCookie(c);
    const session = cookie ? await readSession(kv, cookie) : null;
    if (session) {
      const found = await findUserById(db, session.userId);
      if (found && sessionCurrent(session, found)) user = found;
    }
  }
  // An unverified account never holds a session; a token of one is refused the same way.
  if (!user || user.verifiedAt === null) return undefined;
  return { user: toAuthUser(user, config.admins), via, scope };
}

const READ_METHODS = new Set(["GET", "HEAD"]);

/** Sets `auth` when the request carries a valid session cookie or API token; a read-only token may only read. */
export const authenticate = (): MiddlewareHandler<AppEnv> =>
  async function authenticate(c, next) {
    if (!c.get("auth")) {
      const auth = await resolve(c);
      if (auth) c.set("auth", auth);
    }
    if (c.get("auth")?.scope === "read" && !READ_METHODS.has(c.req.method)) {
      throw new AppError("forbidden", `this API token is read-only: it may only GET and HEAD, not ${c.req.method}; use a full token or sign in`);
    }
    await next();
  };

/**
 * Whether the request's credential still signs in the same person (not logged out, not revoked,
 * not expired): for responses that outlive the moment they were authenticated in.
 */
export async function stillAuthenticated(c: Context<AppEnv>): Promise<boolean> {
  const auth = c.get("auth");
  return auth !== undefined && (await resolve(c))?.user.id === auth.user.id;
}

/** The signed-in user, or 401. */
export function requireUser(c: Context<AppEnv>): AuthUser {
  const auth = c.get("auth");
  if (!auth) throw new AppError("unauthorized", "sign in or send an API token");
  return auth.user;
}

export function requireAdmin(c: Context<AppEnv>): AuthUser {
  const user = requireUser(c);
  if (!user.isAdmin) throw new AppError("forbidden", "administrators only");
  return user;
}

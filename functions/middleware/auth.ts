import type { Context, MiddlewareHandler } from "hono";
import { liveApiToken } from "../auth/api-tokens";
import { readSession, SESSION_COOKIE, sessionCurrent } from "../auth/sessions";
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
export const bearerToken = <E extends AppEnv>(c: Context<E>): string | undefined => c.req.header("authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1];

async function resolve<E extends AppEnv>(c: Context<E>): Promise<AuthContext | undefined> {
  const { db, kv, config } = c.get("services");
  const bearer = bearerToken(c);
  let user: User | null | undefined = null;
  let via: AuthContext["via"] = "session";
  let scope: AuthContext["scope"] = "full";
  let tokenId: string | undefined;
  if (bearer) {
    const token = await liveApiToken(db, bearer);
    user = token?.user;
    via = "token";
    scope = token?.scope ?? "full";
    tokenId = token?.id;
  } else {
    const cookie = sessionCookie(c);
    const session = cookie ? await readSession(kv, cookie) : null;
    if (session) {
      const found = await findUserById(db, session.userId);
      if (found && sessionCurrent(session, found)) user = found;
    }
  }
  // An unverified or suspended account never holds a session; a token of one is refused the same way.
  if (!user || user.verifiedAt === null || user.suspendedAt !== null) return undefined;
  return { user: toAuthUser(user, config.admins), via, scope, ...(tokenId ? { tokenId } : {}) };
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

/** Route middleware puts the checked user here, so a handler never asks again. */
export type SignedInEnv = AppEnv & { Variables: { user: AuthUser } };

/**
 * Whether the request's credential still signs in the same person (not logged out, not revoked,
 * not expired): for responses that outlive the moment they were authenticated in.
 */
export async function stillAuthenticated(c: Context<SignedInEnv>): Promise<boolean> {
  return (await resolve(c))?.user.id === c.get("user").id;
}

function signedInUser(c: Context<SignedInEnv>): AuthUser {
  const auth = c.get("auth");
  if (!auth) throw new AppError("unauthorized", "sign in or send an API token");
  return auth.user;
}

/** The signed-in user in `user`, or 401; it runs before the request is validated. */
export const requireUser = (): MiddlewareHandler<SignedInEnv> =>
  async function requireUser(c, next) {
    c.set("user", signedInUser(c));
    await next();
  };

/** An administrator in `user`; 401 when signed out, 403 for anyone else. */
export const requireAdmin = (): MiddlewareHandler<SignedInEnv> =>
  async function requireAdmin(c, next) {
    const user = signedInUser(c);
    if (!user.isAdmin) throw new AppError("forbidden", "administrators only");
    c.set("user", user);
    await next();
  };

/** A signed-in session, not an API token: a leaked token must not mint successors or credentials. */
export const requireSession = (refusal: string): MiddlewareHandler<SignedInEnv> =>
  async function requireSession(c, next) {
    c.set("user", signedInUser(c));
    if (c.get("auth")?.via === "token") throw new AppError("forbidden", refusal);
    await next();
  };

/** The credentials of the OpenAPI document: the session cookie of the pages, or an API token. */
export const securitySchemes = {
  session: { type: "apiKey", in: "cookie", name: SESSION_COOKIE, description: "The session of a signed-in browser (__Host- prefixed in production)" },
  token: { type: "http", scheme: "bearer", description: "A personal API token (POST /api/v1/tokens)" },
} as const;

const eitherCredential: Record<string, string[]>[] = [{ session: [] }, { token: [] }];

/** What a route for the signed-in declares: the guard and the credentials it takes. */
export const userOnly = { middleware: requireUser(), security: eitherCredential };
/** What a route for administrators declares. */
export const adminOnly = { middleware: requireAdmin(), security: eitherCredential };
/** What a route for a signed-in browser only declares; `refusal` says why a token may not. */
export const sessionOnly = (refusal: string) => ({ middleware: requireSession(refusal), security: [{ session: [] }] as Record<string, string[]>[] });

import type { IncomingMessage } from "node:http";
import { parse } from "hono/utils/cookie";
import { API_TOKEN_PREFIX, liveApiToken } from "../auth/api-tokens";
import { findUserById } from "../auth/users";
import type { Services } from "../services";
import { APP_COOKIE, grantUser } from "./grants";
import type { Destination } from "./resolve";

/** Who asks: a verified person, nobody, or someone whose KWS token is not (or no longer) valid. */
export type Visitor = { userId: string } | "anonymous" | "bad_token";

/** The KWS API token of a request, if its Authorization is one (an app's own bearer tokens are not ours). */
export function kwsBearer(req: IncomingMessage): string | undefined {
  const token = req.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
  return token?.startsWith(API_TOKEN_PREFIX) ? token : undefined;
}

export function appCookie(req: IncomingMessage): string | undefined {
  return req.headers.cookie ? parse(req.headers.cookie, APP_COOKIE)[APP_COOKIE] : undefined;
}

/** The visitor of app host `label`: an API token first, else the host's grant cookie. */
export async function identify(s: Services, req: IncomingMessage, label: string): Promise<Visitor> {
  const bearer = kwsBearer(req);
  if (bearer) {
    const user = (await liveApiToken(s.db, bearer))?.user;
    return user && user.verifiedAt ? { userId: user.id } : "bad_token";
  }
  const cookie = appCookie(req);
  const userId = cookie ? await grantUser(s.kv, cookie, label) : undefined;
  if (!userId) return "anonymous";
  // A grant outlives nothing: an account deleted (or never verified) since has none.
  const user = await findUserById(s.db, userId);
  return user && user.verifiedAt ? { userId } : "anonymous";
}

export type Verdict = "allow" | "sign_in" | "forbidden" | "bad_token";

/** The access matrix: public lets anyone in; otherwise a visitor must be known, and the owner where access is owner. */
export function verdict(dest: Pick<Destination, "access" | "ownerId">, visitor: Visitor): Verdict {
  if (visitor === "bad_token") return "bad_token";
  if (dest.access === "public") return "allow";
  if (visitor === "anonymous") return "sign_in";
  if (dest.access === "authenticated" || visitor.userId === dest.ownerId) return "allow";
  return "forbidden";
}

/** A browser navigating (it can follow a sign-in redirect); anything else gets a 401 it can read. */
export function isBrowser(req: IncomingMessage): boolean {
  return (req.method === "GET" || req.method === "HEAD") && (req.headers.accept ?? "").includes("text/html");
}

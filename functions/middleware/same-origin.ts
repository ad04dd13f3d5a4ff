import type { Context, MiddlewareHandler } from "hono";
import { AppError } from "../core/errors";
import type { AppEnv } from "../env";
import { bearerToken } from "./auth";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The control plane's own origins: PUBLIC_URL's, and the host the request was sent to (a proxy's or a test's). */
function isOwnOrigin(c: Context<AppEnv>, origin: string): boolean {
  if (origin === new URL(c.get("services").config.publicUrl).origin) return true;
  try {
    return new URL(origin).host === new URL(c.req.url).host;
  } catch {
    // "null" (sandboxed frames, opaque origins) and anything else unparsable.
    return false;
  }
}

function fromOwnOrigin(c: Context<AppEnv>): boolean {
  const origin = c.req.header("origin");
  if (origin !== undefined) return isOwnOrigin(c, origin);
  const site = c.req.header("sec-fetch-site");
  // Neither header: not a browser (curl, an agent, a webhook caller), which forges nothing.
  return site === undefined || site === "same-origin";
}

/**
 * Cross-site request forgery: a state-changing request that a browser sends from another site
 * (a sibling subdomain, that is a published app, included) is refused whatever its content type,
 * before it is authenticated. Bearer requests are exempt: a browser attaches no token by itself.
 * Pages' forms also carry a token (web/csrf.ts) for the browsers that send neither header, which
 * this check has to let through for non-browser clients.
 */
export const sameOriginWrites = (): MiddlewareHandler<AppEnv> =>
  async function sameOriginWrites(c, next) {
    if (!SAFE_METHODS.has(c.req.method) && !bearerToken(c) && !fromOwnOrigin(c)) {
      throw new AppError("forbidden", "cross-site request refused: state-changing requests must come from this site's own pages (or send an API token)");
    }
    await next();
  };

import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../env";

/**
 * hono's bodyLimit, decided from the Content-Length header when there is one. hono's looks at
 * `c.req.raw.body` first, and on Node that makes @hono/node-server build a full web Request for
 * every request (6% of the control plane's CPU under load, measured): a body of declared length is
 * judged by the header (Node's HTTP parser holds the body to it), a chunked one is counted by hono.
 */
export function limitBody(maxSize: number, onError: (c: Context<AppEnv>) => never): MiddlewareHandler<AppEnv> {
  const counting = bodyLimit({ maxSize, onError });
  return async function limitBody(c, next) {
    if (c.req.method === "GET" || c.req.method === "HEAD") return next();
    const length = c.req.header("content-length");
    if (length !== undefined && c.req.header("transfer-encoding") === undefined) {
      if (Number(length) > maxSize) onError(c);
      return next();
    }
    return counting(c, next);
  };
}

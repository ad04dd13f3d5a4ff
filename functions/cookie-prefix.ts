import type { Context } from "hono";
import type { AppEnv } from "./env";

/**
 * The prefix of our cookies: in production `__Host-` (hono's "host": Secure, Path=/, no Domain),
 * which a browser accepts from this very host only, so a sibling subdomain (a published app)
 * cannot plant one. Development is plain HTTP, where a browser would drop such a cookie.
 */
export const cookiePrefix = <E extends AppEnv>(c: Context<E>) => (c.get("services").config.env === "production" ? ("host" as const) : undefined);

import type { Context } from "hono";
import type { AppEnv } from "../env";

interface NodeBindings {
  incoming?: { socket?: { remoteAddress?: string } };
}

/** The caller's address: the proxy's header only when configured to trust it. */
export function clientIp(c: Context<AppEnv>): string {
  if (c.get("services").config.trustProxy) {
    const forwarded = c.req.header("x-forwarded-for")?.split(",")[0]?.trim();
    if (forwarded) return forwarded;
  }
  const edge = c.req.header("cf-connecting-ip");
  if (edge && typeof (c.env as NodeBindings | undefined)?.incoming === "undefined") return edge;
  return (c.env as NodeBindings | undefined)?.incoming?.socket?.remoteAddress ?? "unknown";
}

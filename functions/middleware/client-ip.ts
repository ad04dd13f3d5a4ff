import type { Context } from "hono";
import type { TrustProxy } from "../../shared/config";
import { inRange, parseIp } from "../../shared/net/ip";
import type { AppEnv } from "../env";

interface NodeBindings {
  incoming?: { socket?: { remoteAddress?: string } };
}

/**
 * The client's address from the peer and its X-Forwarded-For entries. Each proxy appends the address
 * that connected to it, so the chain is read from the right (the peer, then the last entry, …); the
 * first address not added by a trusted proxy is the client. Entries left of it are whatever the
 * client sent, and are never believed.
 */
export function forwardedClient(peer: string, forwarded: readonly string[], trust: TrustProxy): string {
  const chain = [...forwarded, peer];
  if ("hops" in trust) return chain[Math.max(0, chain.length - 1 - trust.hops)]!;
  for (let i = chain.length - 1; i > 0; i--) {
    const ip = parseIp(chain[i]!);
    if (!ip || !trust.ranges.some((range) => inRange(ip, range))) return chain[i]!;
  }
  return chain[0]!;
}

/** Whether the peer itself is a proxy whose X-Forwarded-* headers are believed. */
export function trustsPeer(peer: string, trust: TrustProxy): boolean {
  if ("hops" in trust) return trust.hops > 0;
  const ip = parseIp(peer);
  return ip !== undefined && trust.ranges.some((range) => inRange(ip, range));
}

/** The caller's address: the proxies' header as far as TRUST_PROXY trusts them. */
export function clientIp<E extends AppEnv>(c: Context<E>): string {
  const peer = (c.env as NodeBindings | undefined)?.incoming?.socket?.remoteAddress;
  if (peer === undefined) {
    // Not on Node: at the edge Cloudflare names the client.
    return c.req.header("cf-connecting-ip") ?? "unknown";
  }
  const header = c.req.header("x-forwarded-for") ?? "";
  const forwarded = header.split(",").map((entry) => entry.trim()).filter(Boolean);
  return forwardedClient(peer, forwarded, c.get("services").config.trustProxy);
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

/**
 * Whether the request comes from this machine directly. A request that came through a proxy
 * carries X-Forwarded-For (or Forwarded) even when the proxy is on loopback: that is not direct.
 */
export function directFromLoopback(c: Context<AppEnv>): boolean {
  const peer = (c.env as NodeBindings | undefined)?.incoming?.socket?.remoteAddress;
  return peer !== undefined && LOOPBACK.has(peer) && !c.req.header("x-forwarded-for") && !c.req.header("forwarded");
}

import { AppError } from "../core/errors";
import type { KV, RateLimitRule } from "../../shared/kv/port";

/** Takes one hit from the bucket `key`; throws 429 with Retry-After when it is empty. */
export async function enforceRateLimit(kv: KV, key: string, rule: RateLimitRule): Promise<void> {
  const result = await kv.hit(`ratelimit:${key}`, rule);
  if (!result.allowed) {
    const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
    throw new AppError("rate_limited", `too many attempts; try again in ${seconds} s`, {
      headers: { "Retry-After": String(seconds) },
    });
  }
}

/** Gives back one hit that enforceRateLimit took from `key`. */
export async function refundRateLimit(kv: KV, key: string, rule: RateLimitRule): Promise<void> {
  await kv.refund(`ratelimit:${key}`, rule);
}

export async function resetRateLimit(kv: KV, key: string): Promise<void> {
  await kv.del(`ratelimit:${key}`);
}

import { Redis } from "@upstash/redis";
import { GCRA_REFUND_SCRIPT, GCRA_SCRIPT } from "./gcra";
import type { KV, RateLimitResult, RateLimitRule, SetOptions } from "./port";

export class UpstashKV implements KV {
  private readonly redis: Redis;

  private readonly prefix: string;

  /** `prefix` namespaces every key, so several deployments (or test files) can share one Redis. */
  constructor(options: { url: string; token: string; prefix?: string }) {
    // No automatic retries: a dead Redis must show as an error now, not after backoff.
    this.redis = new Redis({ url: options.url, token: options.token, automaticDeserialization: false, retry: false });
    this.prefix = options.prefix ?? "";
  }

  async get(key: string) {
    return (await this.redis.get<string>(this.prefix + key)) ?? null;
  }

  async set(key: string, value: string, options: SetOptions = {}) {
    const ttl = options.ttlSeconds ? { ex: Math.ceil(options.ttlSeconds) } : {};
    const result = options.onlyIfAbsent
      ? await this.redis.set(this.prefix + key, value, { ...ttl, nx: true } as { ex: number; nx: true })
      : await this.redis.set(this.prefix + key, value, ttl as { ex: number });
    return result === "OK";
  }

  async del(key: string) {
    return (await this.redis.del(this.prefix + key)) > 0;
  }

  async ttl(key: string) {
    const t = await this.redis.ttl(this.prefix + key);
    return t >= 0 ? t : null;
  }

  async hit(key: string, rule: RateLimitRule): Promise<RateLimitResult> {
    const [allowed, retryAfterMs] = (await this.redis.eval(GCRA_SCRIPT, [this.prefix + key], [
      String(rule.burst),
      String(rule.intervalMs),
    ])) as [number, number];
    return { allowed: allowed === 1, retryAfterMs: Number(retryAfterMs) };
  }

  async refund(key: string, rule: RateLimitRule): Promise<void> {
    await this.redis.eval(GCRA_REFUND_SCRIPT, [this.prefix + key], [String(rule.intervalMs)]);
  }

  async ping() {
    await this.redis.ping();
  }
}

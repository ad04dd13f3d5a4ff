import { Redis } from "ioredis";
import { GCRA_REFUND_SCRIPT, GCRA_SCRIPT } from "./gcra";
import type { KV, RateLimitResult, RateLimitRule, SetOptions } from "./port";

/**
 * Redis over its own TCP protocol (REDIS_URL), for Node deployments: one round trip per call
 * instead of an HTTP request per call through an Upstash-compatible endpoint. The edge cannot
 * open TCP sockets to Redis and keeps the Upstash adapter.
 */
export class RedisKV implements KV {
  private readonly redis: Redis & {
    kwsGcra(key: string, burst: string, interval: string): Promise<[number, number]>;
    kwsGcraRefund(key: string, interval: string): Promise<number>;
  };
  private readonly prefix: string;

  constructor(options: { url: string; prefix?: string }) {
    // Fail a call at once when Redis is down instead of queueing it behind reconnects.
    const redis = new Redis(options.url, { lazyConnect: false, enableOfflineQueue: true, maxRetriesPerRequest: 1 });
    redis.on("error", () => {
      // Reported to the caller of the failing command; without a listener ioredis logs to stderr.
    });
    redis.defineCommand("kwsGcra", { numberOfKeys: 1, lua: GCRA_SCRIPT });
    redis.defineCommand("kwsGcraRefund", { numberOfKeys: 1, lua: GCRA_REFUND_SCRIPT });
    this.redis = redis as RedisKV["redis"];
    this.prefix = options.prefix ?? "";
  }

  async get(key: string) {
    return this.redis.get(this.prefix + key);
  }

  async set(key: string, value: string, options: SetOptions = {}) {
    const k = this.prefix + key;
    const ttl = options.ttlSeconds ? Math.ceil(options.ttlSeconds) : undefined;
    let result: string | null;
    if (options.onlyIfAbsent) {
      result = ttl ? await this.redis.set(k, value, "EX", ttl, "NX") : await this.redis.set(k, value, "NX");
    } else {
      result = ttl ? await this.redis.set(k, value, "EX", ttl) : await this.redis.set(k, value);
    }
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
    // defineCommand sends EVALSHA and falls back to EVAL once, so the script is not resent each time.
    const [allowed, retryAfterMs] = await this.redis.kwsGcra(this.prefix + key, String(rule.burst), String(rule.intervalMs));
    return { allowed: Number(allowed) === 1, retryAfterMs: Number(retryAfterMs) };
  }

  async refund(key: string, rule: RateLimitRule): Promise<void> {
    await this.redis.kwsGcraRefund(this.prefix + key, String(rule.intervalMs));
  }

  async ping() {
    await this.redis.ping();
  }

  async close() {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

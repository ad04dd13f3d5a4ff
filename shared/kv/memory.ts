import type { KV, RateLimitResult, RateLimitRule, SetOptions } from "./port";

interface Entry {
  value: string;
  expiresAt?: number;
}

/** The embedded default: a Map with lazy expiry plus a periodic sweep. */
export class MemoryKV implements KV {
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(private readonly now: () => number = Date.now) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref?.();
  }

  private live(key: string): Entry | undefined {
    const e = this.entries.get(key);
    if (e && e.expiresAt !== undefined && e.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  private sweep() {
    for (const key of this.entries.keys()) this.live(key);
  }

  async get(key: string) {
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, options: SetOptions = {}) {
    if (options.onlyIfAbsent && this.live(key)) return false;
    const expiresAt = options.ttlSeconds ? this.now() + options.ttlSeconds * 1000 : undefined;
    this.entries.set(key, { value, expiresAt });
    return true;
  }

  async del(key: string) {
    const existed = this.live(key) !== undefined;
    this.entries.delete(key);
    return existed;
  }

  async ttl(key: string) {
    const e = this.live(key);
    if (!e || e.expiresAt === undefined) return null;
    return Math.ceil((e.expiresAt - this.now()) / 1000);
  }

  async hit(key: string, rule: RateLimitRule): Promise<RateLimitResult> {
    const now = this.now();
    const tat = Math.max(Number(this.live(key)?.value ?? 0), now);
    const allowAt = tat - rule.burst * rule.intervalMs;
    if (now < allowAt + rule.intervalMs) {
      return { allowed: false, retryAfterMs: allowAt + rule.intervalMs - now };
    }
    const next = tat + rule.intervalMs;
    this.entries.set(key, { value: String(next), expiresAt: next });
    return { allowed: true, retryAfterMs: 0 };
  }

  async refund(key: string, rule: RateLimitRule): Promise<void> {
    const now = this.now();
    const next = Number(this.live(key)?.value ?? 0) - rule.intervalMs;
    if (next <= now) this.entries.delete(key);
    else this.entries.set(key, { value: String(next), expiresAt: next });
  }

  async ping() {}

  async close() {
    clearInterval(this.sweeper);
  }
}

export interface SetOptions {
  ttlSeconds?: number;
  /** SET NX: write only when the key does not exist; the result says whether it was written. */
  onlyIfAbsent?: boolean;
}

export interface RateLimitRule {
  /** How many hits may come at once. */
  burst: number;
  /** One more hit is allowed after each interval. */
  intervalMs: number;
}

export interface RateLimitResult {
  allowed: boolean;
  /** When not allowed: how long until the next hit would be. */
  retryAfterMs: number;
}

/**
 * Key-value store for what may be lost: sessions, e-mail tokens, rate-limit state.
 * Adapters: in-memory (embedded default) and Upstash Redis REST.
 */
export interface KV {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, options?: SetOptions): Promise<boolean>;
  /** Returns whether the key existed. */
  del(key: string): Promise<boolean>;
  /** Remaining time to live in seconds; null when the key is absent or has no expiry. */
  ttl(key: string): Promise<number | null>;
  /**
   * Generic cell rate algorithm, atomically: a burst of `burst` hits, then one per interval.
   * Atomic so that parallel requests cannot all slip through on the same reading.
   */
  hit(key: string, rule: RateLimitRule): Promise<RateLimitResult>;
  /**
   * Gives back one hit that `hit` allowed (an attempt that turned out not to count), atomically;
   * a bucket is never made fuller than untouched.
   */
  refund(key: string, rule: RateLimitRule): Promise<void>;
  ping(): Promise<void>;
  close?(): Promise<void>;
}

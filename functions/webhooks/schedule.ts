const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;

/**
 * When each attempt is made, after the previous one failed: immediately, then 5 s, 5 min, 30 min,
 * 2 h, 5 h, 10 h and 10 h later (Svix's schedule); after the eighth failure the delivery fails.
 */
export const RETRY_DELAYS_MS = [0, 5 * S, 5 * MIN, 30 * MIN, 2 * H, 5 * H, 10 * H, 10 * H] as const;
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length;
/** An endpoint that failed every attempt for this long is disabled. */
export const FAILING_DISABLE_MS = 5 * 24 * H;
/** A Retry-After is honoured up to the schedule's longest wait. */
const MAX_RETRY_AFTER_MS = 10 * H;
/** ±10 %: deliveries that failed together are not all retried in the same instant. */
const JITTER = 0.1;

/**
 * The wait before the attempt after `attempt` (1-based) failed, scaled by `scale` (tests), or
 * undefined when that was the last. A receiver's Retry-After replaces the schedule's wait.
 */
export function nextDelayMs(attempt: number, scale: number, retryAfterMs?: number, random = Math.random): number | undefined {
  const base = RETRY_DELAYS_MS[attempt];
  if (base === undefined) return undefined;
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, MAX_RETRY_AFTER_MS);
  return Math.round(base * scale * (1 + JITTER * (2 * random() - 1)));
}

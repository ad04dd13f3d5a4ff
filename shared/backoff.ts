export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  /** A connection that stayed up this long starts the next retry from initialMs again. */
  resetAfterMs?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { initialMs: 100, maxMs: 10_000, resetAfterMs: 10_000 };

/** Equal jitter: half the capped exponential step for sure, the other half at random. */
export function backoffDelay(failures: number, backoff: Required<BackoffOptions>, random: () => number = Math.random): number {
  const cap = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(failures, 30));
  return Math.round(cap / 2 + random() * (cap / 2));
}

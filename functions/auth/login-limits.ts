import type { RateLimits } from "../../shared/config";
import type { KV } from "../../shared/kv/port";
import { formatIp, parseIp } from "../../shared/net/ip";
import { enforceRateLimit, refundRateLimit, resetRateLimit } from "../middleware/rate-limit";
import { AppError } from "../core/errors";

/**
 * The limits on failed logins that hold whatever name is tried: per client address across all
 * names (unknown ones too) and per account across addresses. Each login takes one failure from
 * both buckets before its password hash runs, so a flood is refused without hashing and parallel
 * attempts cannot slip past; a login whose password matched gives its failures back.
 */

/** An IPv6 client is one /64 (one subscriber's network), so rotating addresses within it gains nothing. */
export function clientBucket(ip: string): string {
  const parsed = parseIp(ip);
  if (!parsed) return ip;
  if (parsed.version === 4) return formatIp(parsed);
  return `${formatIp({ version: 6, value: (parsed.value >> 64n) << 64n })}/64`;
}

const addressKey = (ip: string) => `login-address:${clientBucket(ip)}`;

/** The per-account bucket; a password reset clears it (clearLoginFailures). */
export const accountFailuresKey = (userId: string) => `login-account:${userId}`;

type Rules = Pick<RateLimits, "loginAddress" | "loginAccount">;

/**
 * How long a refused attempt of an address that used up its failures is held before its 429: a
 * client flooding over a few connections then sends a few requests a second instead of hundreds,
 * which would otherwise take the event loop every other person's login runs on.
 */
export const REFUSAL_DELAY_MS = 1000;

/**
 * Takes one failure from the address's bucket ahead of the hash; when it is empty, the 429 to
 * answer, after holding it REFUSAL_DELAY_MS (the caller holds it outside the client's turn, so a
 * client's refusals are held side by side, not one after another).
 */
export async function reserveAddressFailure(kv: KV, rules: Rules, ip: string): Promise<AppError | undefined> {
  try {
    await enforceRateLimit(kv, addressKey(ip), rules.loginAddress);
    return undefined;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
}

/** Takes one failure from the account's bucket ahead of the hash; 429 when it is empty. */
export async function reserveAccountFailure(kv: KV, rules: Rules, userId: string): Promise<void> {
  await enforceRateLimit(kv, accountFailuresKey(userId), rules.loginAccount);
}

/** The password matched: the failures taken ahead are given back. */
export async function refundLoginFailures(kv: KV, rules: Rules, ip: string, userId: string): Promise<void> {
  await Promise.all([
    refundRateLimit(kv, addressKey(ip), rules.loginAddress),
    refundRateLimit(kv, accountFailuresKey(userId), rules.loginAccount),
  ]);
}

/** Forgets an account's failed logins, e.g. after its password was reset. */
export async function clearLoginFailures(kv: KV, userId: string): Promise<void> {
  await resetRateLimit(kv, accountFailuresKey(userId));
}

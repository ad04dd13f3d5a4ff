import { hashToken, randomToken } from "../../shared/crypto/tokens";
import { AppError } from "../../shared/errors";
import type { KV } from "../../shared/kv/port";

export const VERIFY_TTL_MS = 24 * 60 * 60 * 1000;
// Kept past expiry so that an expired link says "gone" rather than "unknown".
const RECORD_TTL_SECONDS = 7 * 24 * 60 * 60;

interface Record {
  userId: string;
  expiresAt: number;
}

export async function issueVerificationToken(kv: KV, userId: string, now = Date.now()): Promise<string> {
  const token = randomToken();
  const record: Record = { userId, expiresAt: now + VERIFY_TTL_MS };
  await kv.set(`verify:${await hashToken(token)}`, JSON.stringify(record), { ttlSeconds: RECORD_TTL_SECONDS });
  return token;
}

/** The record of a token still usable: unknown → 404; used or expired → 410. */
async function usableRecord(kv: KV, hash: string, now: number): Promise<Record> {
  const [raw, used] = await Promise.all([kv.get(`verify:${hash}`), kv.get(`verify-used:${hash}`)]);
  if (!raw) throw new AppError("not_found", "this verification link is not known");
  const record = JSON.parse(raw) as Record;
  if (record.expiresAt <= now) {
    throw new AppError("gone", "this verification link has expired; ask for a new one");
  }
  if (used) throw new AppError("gone", "this verification link was already used");
  return record;
}

/** The user id a token was issued for, without using it up (the page that asks before verifying). */
export async function peekVerificationToken(kv: KV, token: string, now = Date.now()): Promise<{ userId: string }> {
  const record = await usableRecord(kv, await hashToken(token), now);
  return { userId: record.userId };
}

/**
 * Uses a token up: the user id it was issued for. Unknown → 404; used or expired → 410.
 * Single use holds under concurrency: the "used" mark is written with SET NX.
 */
export async function consumeVerificationToken(kv: KV, token: string, now = Date.now()): Promise<{ userId: string; release(): Promise<void> }> {
  const hash = await hashToken(token);
  const record = await usableRecord(kv, hash, now);
  const first = await kv.set(`verify-used:${hash}`, "1", { ttlSeconds: RECORD_TTL_SECONDS, onlyIfAbsent: true });
  if (!first) throw new AppError("gone", "this verification link was already used");
  // For compensation when the account update fails after the token was marked used.
  return { userId: record.userId, release: async () => void (await kv.del(`verify-used:${hash}`)) };
}

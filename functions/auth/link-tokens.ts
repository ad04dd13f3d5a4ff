import { hashToken, randomToken } from "../../shared/crypto/tokens";
import { AppError } from "../core/errors";
import type { KV } from "../../shared/kv/port";

/**
 * Single-use tokens of the links KWS mails (e-mail verification, password reset, e-mail change):
 * 256 random bits, kept in the KV only as their hash, with what the link is for.
 */
export interface LinkKind {
  /** KV key prefix, one per kind, so a token of one kind is unknown to the others. */
  prefix: string;
  ttlMs: number;
  /** How the messages name it, e.g. "verification link". */
  noun: string;
}

// Kept past expiry so that an expired link says "gone" rather than "unknown".
const RECORD_TTL_SECONDS = 7 * 24 * 60 * 60;

/** The link's data with its expiry beside it (the shape verification records always had). */
type Stored<T> = T & { expiresAt: number };

export async function issueLinkToken<T extends object>(kv: KV, kind: LinkKind, data: T, now = Date.now()): Promise<string> {
  const token = randomToken();
  const record: Stored<T> = { ...data, expiresAt: now + kind.ttlMs };
  await kv.set(`${kind.prefix}:${await hashToken(token)}`, JSON.stringify(record), { ttlSeconds: RECORD_TTL_SECONDS });
  return token;
}

export interface UsedLink<T> {
  data: T;
  /** Makes the token usable again: for compensation when the change it stands for failed. */
  release(): Promise<void>;
}

/** What a token still usable was issued for: unknown → 404; used or expired → 410. */
async function usableRecord<T extends object>(kv: KV, kind: LinkKind, hash: string, now: number): Promise<T> {
  const [raw, used] = await Promise.all([kv.get(`${kind.prefix}:${hash}`), kv.get(`${kind.prefix}-used:${hash}`)]);
  if (!raw) throw new AppError("not_found", `this ${kind.noun} is not known`);
  const { expiresAt, ...data } = JSON.parse(raw) as Stored<T>;
  if (expiresAt <= now) throw new AppError("gone", `this ${kind.noun} has expired; ask for a new one`);
  if (used) throw new AppError("gone", `this ${kind.noun} was already used`);
  return data as T;
}

/** What a token was issued for, without using it up (a page that asks before acting). */
export async function peekLinkToken<T extends object>(kv: KV, kind: LinkKind, token: string, now = Date.now()): Promise<T> {
  return usableRecord<T>(kv, kind, await hashToken(token), now);
}

/**
 * Uses a token up: what it was issued for. Unknown → 404; used or expired → 410.
 * Single use holds under concurrency: the "used" mark is written with SET NX.
 */
export async function consumeLinkToken<T extends object>(kv: KV, kind: LinkKind, token: string, now = Date.now()): Promise<UsedLink<T>> {
  const hash = await hashToken(token);
  const data = await usableRecord<T>(kv, kind, hash, now);
  const usedKey = `${kind.prefix}-used:${hash}`;
  const first = await kv.set(usedKey, "1", { ttlSeconds: RECORD_TTL_SECONDS, onlyIfAbsent: true });
  if (!first) throw new AppError("gone", `this ${kind.noun} was already used`);
  return { data, release: async () => void (await kv.del(usedKey)) };
}

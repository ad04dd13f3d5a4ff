import { consumeLinkToken, issueLinkToken, peekLinkToken, type LinkKind } from "./link-tokens";
import type { KV } from "../../shared/kv/port";

export const VERIFY_TTL_MS = 24 * 60 * 60 * 1000;
const VERIFY: LinkKind = { prefix: "verify", ttlMs: VERIFY_TTL_MS, noun: "verification link" };

export function issueVerificationToken(kv: KV, userId: string, now = Date.now()): Promise<string> {
  return issueLinkToken(kv, VERIFY, { userId }, now);
}

/** The user id a token was issued for, without using it up (the page that asks before verifying). */
export function peekVerificationToken(kv: KV, token: string, now = Date.now()): Promise<{ userId: string }> {
  return peekLinkToken<{ userId: string }>(kv, VERIFY, token, now);
}

/** Uses a token up: the user id it was issued for. Unknown → 404; used or expired → 410. */
export async function consumeVerificationToken(kv: KV, token: string, now = Date.now()): Promise<{ userId: string; release(): Promise<void> }> {
  const used = await consumeLinkToken<{ userId: string }>(kv, VERIFY, token, now);
  return { userId: used.data.userId, release: used.release };
}

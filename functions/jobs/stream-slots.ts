import { randomToken } from "../../shared/crypto/tokens";
import type { KV } from "../../shared/kv/port";

export const MAX_OPEN_STREAMS = 20;
/** A slot whose holder stops renewing it (a crashed process) frees itself after this long. */
export const SLOT_TTL_SECONDS = 30;

export interface StreamSlot {
  /** Keeps the slot for another SLOT_TTL_SECONDS. */
  renew(): Promise<void>;
  release(): Promise<void>;
}

/**
 * One of a person's MAX_OPEN_STREAMS slots for a long-lived response, or null when all are held.
 * The slots are KV keys (SET NX with a TTL), so every process of the control plane counts the
 * same streams and a process that dies without releasing leaks nothing beyond the TTL.
 */
export async function takeStreamSlot(kv: KV, userId: string): Promise<StreamSlot | null> {
  const holder = randomToken();
  for (let i = 0; i < MAX_OPEN_STREAMS; i++) {
    const key = `event-streams:${userId}:${i}`;
    if (!(await kv.set(key, holder, { ttlSeconds: SLOT_TTL_SECONDS, onlyIfAbsent: true }))) continue;
    return {
      renew: async () => {
        await kv.set(key, holder, { ttlSeconds: SLOT_TTL_SECONDS });
      },
      // Only while it is still ours: after a stall past the TTL another stream may hold it.
      release: async () => {
        if ((await kv.get(key)) === holder) await kv.del(key);
      },
    };
  }
  return null;
}

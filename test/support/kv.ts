import { MemoryKV } from "../../shared/kv/memory";
import type { KV } from "../../shared/kv/port";
import { UpstashKV } from "../../shared/kv/upstash";

/**
 * The KV of the environment: the Upstash adapter on the bridge to the real Redis that test/run.ts
 * starts (UPSTASH_REDIS_REST_URL/TOKEN); outside the suite (a bench) without them, the in-memory one.
 * Each call gets its own key prefix unless given one, so test files sharing one Redis never see
 * each other's keys, and clients given one prefix share a store, as two control-plane processes do.
 */
export function environmentKV(prefix = `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}:`): KV {
  const url = process.env.UPSTASH_REDIS_REST_URL;
  const token = process.env.UPSTASH_REDIS_REST_TOKEN;
  if (url && token) return new UpstashKV({ url, token, prefix });
  return new MemoryKV();
}

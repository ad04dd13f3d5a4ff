import { MemoryKV } from "../../shared/kv/memory";
import type { KV } from "../../shared/kv/port";
import { UpstashKV } from "../../shared/kv/upstash";

/**
 * The KV of the environment: the Upstash adapter when UPSTASH_REDIS_REST_URL/TOKEN are set
 * (CI points them at the bridge in front of the real Redis), else the in-memory one.
 * Each call gets its own key prefix, so test files sharing one Redis never see each other's keys.
 */
export function environmentKV(): KV {
  const url = process.env.UPSTASH_REDIS_REST_URL;
  const token = process.env.UPSTASH_REDIS_REST_TOKEN;
  if (url && token) return new UpstashKV({ url, token, prefix: `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}:` });
  return new MemoryKV();
}

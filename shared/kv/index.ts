import type { Config } from "../config";
import { MemoryKV } from "./memory";
import type { KV } from "./port";
import { RedisKV } from "./redis";
import { UpstashKV } from "./upstash";

export type { KV } from "./port";

/** Node's choice: Redis over TCP, else Upstash REST, else in memory. */
export function createKV(config: Pick<Config, "redisUrl" | "upstash">): KV {
  if (config.redisUrl) return new RedisKV({ url: config.redisUrl });
  return config.upstash ? new UpstashKV(config.upstash) : new MemoryKV();
}

/** The KV kind, for logs. */
export function kvKind(config: Pick<Config, "redisUrl" | "upstash">): "redis" | "upstash" | "memory" {
  return config.redisUrl ? "redis" : config.upstash ? "upstash" : "memory";
}

import type { Config } from "../config";
import { MemoryKV } from "./memory";
import type { KV } from "./port";
import { UpstashKV } from "./upstash";

export type { KV } from "./port";

export function createKV(config: Pick<Config, "upstash">): KV {
  return config.upstash ? new UpstashKV(config.upstash) : new MemoryKV();
}

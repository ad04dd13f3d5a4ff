/**
 * The KV contract on UpstashKV, through the Upstash bridge (started here, in-process) to the
 * real Redis (REDIS_URL, default redis://127.0.0.1:6379). Keys carry a unique prefix and are
 * removed at the end.
 */
import { after, before } from "node:test";
import { Redis } from "ioredis";
import { UpstashKV } from "../../shared/kv/upstash";
import { startUpstashBridge, type UpstashBridge } from "../upstash-bridge/server";
import { kvContract } from "./contract";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const token = `kv-test-${Math.random().toString(36).slice(2)}`;
const prefix = `kvtest:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}:`;
let bridge: UpstashBridge;

before(async () => {
  bridge = await startUpstashBridge({ redisUrl, token });
});

after(async () => {
  await bridge.close();
  const redis = new Redis(redisUrl, { protocol: 2 });
  try {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
});

kvContract("UpstashKV via the bridge", async () => new UpstashKV({ url: bridge.url, token, prefix }));

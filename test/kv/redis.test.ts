/** The KV contract on RedisKV against the real Redis (REDIS_URL, default redis://127.0.0.1:6379). */
import { after } from "node:test";
import { Redis } from "ioredis";
import { RedisKV } from "../../shared/kv/redis";
import { kvContract } from "./contract";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `kvtest:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}:`;

after(async () => {
  const redis = new Redis(redisUrl);
  try {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
});

kvContract("RedisKV", async () => new RedisKV({ url: redisUrl, prefix }));

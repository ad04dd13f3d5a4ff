/**
 * The Upstash bridge as a process: `tsx test/upstash-bridge/main.ts`.
 *   BRIDGE_TOKEN  (required) the token clients send as `Authorization: Bearer <token>`
 *   BRIDGE_PORT   default 8079
 *   BRIDGE_HOST   default 127.0.0.1
 *   REDIS_URL     default redis://127.0.0.1:6379
 * Point KWS at it with UPSTASH_REDIS_REST_URL=http://127.0.0.1:8079 and
 * UPSTASH_REDIS_REST_TOKEN=<the same token>.
 */
import { redactedUrl, startUpstashBridge } from "./server";

function log(level: "info" | "error", msg: string, fields: Record<string, unknown> = {}) {
  const line = JSON.stringify({ time: new Date().toISOString(), level, msg, service: "upstash-bridge", ...fields });
  if (level === "error") console.error(line);
  else console.log(line);
}

async function main() {
  const token = process.env.BRIDGE_TOKEN ?? "";
  if (token === "") {
    log("error", "BRIDGE_TOKEN is not set: choose a token and give it to the clients as UPSTASH_REDIS_REST_TOKEN");
    process.exit(1);
  }
  const port = Number(process.env.BRIDGE_PORT ?? 8079);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    log("error", `BRIDGE_PORT must be a port number, not ${JSON.stringify(process.env.BRIDGE_PORT)}`);
    process.exit(1);
  }
  const redisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";
  const bridge = await startUpstashBridge({ redisUrl, token, port, host: process.env.BRIDGE_HOST || "127.0.0.1" });
  log("info", "upstash bridge listening", { url: bridge.url, redis: redactedUrl(redisUrl) });

  const stop = async (signal: string) => {
    await bridge.close();
    log("info", "upstash bridge stopped", { signal });
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}

main().catch((err) => {
  log("error", "upstash bridge failed to start", { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});

import { serve } from "@hono/node-server";
import type { Server } from "node:http";
import { ConfigError, parseConfig, type Config } from "../shared/config";
import { createLogger } from "../shared/logger";
import { createControlPlane } from "./control-plane";
import { Gateway } from "./gateway/gateway";
import { createNodeServices } from "./node-services";

function loadConfig(): Config {
  try {
    return parseConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}

/** `npm start`: the whole control plane and the gateway in one Node process. */
async function main() {
  const config = loadConfig();
  const logger = createLogger({ service: "kws" }, { level: config.logLevel });
  const services = await createNodeServices(config, logger);
  const gateway = new Gateway({ db: services.db, queue: services.queue, logger, heartbeatMs: config.heartbeatMs });
  await gateway.start();
  const app = createControlPlane(async () => ({ services }));
  const server = serve({ fetch: app.fetch, port: config.port }, (info) => {
    logger.info("listening", { port: info.port, url: config.publicUrl });
  });
  gateway.attach(server as Server);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("stopping", { signal });
    await gateway.stop();
    server.close();
    await services.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((err) => {
  console.error(JSON.stringify({ level: "error", msg: "startup failed", error: err instanceof Error ? err.message : String(err) }));
  process.exit(1);
});

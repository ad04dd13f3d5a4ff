import { serve } from "@hono/node-server";
import { ConfigError, parseConfig } from "../shared/config";
import { createLogger } from "../shared/logger";
import { createControlPlane } from "./control-plane";
import { createNodeServices } from "./node-services";

/** `npm start`: the whole control plane in one Node process. */
async function main() {
  let config;
  try {
    config = parseConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger({ service: "kws" }, { level: config.logLevel });
  const services = await createNodeServices(config, logger);
  const app = createControlPlane(async () => ({ services }));
  const server = serve({ fetch: app.fetch, port: config.port }, (info) => {
    logger.info("listening", { port: info.port, url: config.publicUrl });
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("stopping", { signal });
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

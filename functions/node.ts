import { serve } from "@hono/node-server";
import type { Server } from "node:http";
import { createLogger } from "../shared/logger";
import { createControlPlane } from "./control-plane";
import { Gateway } from "./gateway/gateway";
import { createNodeServices } from "./node-services";
import { configOrExit, onShutdown, runMain } from "./process";

/** `npm start`: the whole control plane and the gateway in one Node process. */
runMain("kws", async () => {
  const config = configOrExit();
  const logger = createLogger({ service: "kws" }, { level: config.logLevel });
  const services = await createNodeServices(config, logger);
  const gateway = new Gateway({ db: services.db, queue: services.queue, logger, heartbeatMs: config.heartbeatMs, secretBox: services.secretBox });
  await gateway.start();
  const app = createControlPlane(async () => ({ services }));
  const server = serve({ fetch: app.fetch, port: config.port }, (info) => {
    logger.info("listening", { port: info.port, url: config.publicUrl });
  });
  gateway.attach(server as Server);
  onShutdown(async (signal) => {
    logger.info("stopping", { signal });
    await gateway.stop();
    server.close();
    await services.close();
  });
});

import { serve } from "@hono/node-server";
import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger } from "../shared/logger";
import { createControlPlane } from "./control-plane";
import { Gateway } from "./gateway/gateway";
import { StreamHub } from "./streams/hub";
import { routeUpgrades } from "./upgrades";
import { startLocalAgent } from "./local-agent";
import { createNodeServices } from "./node-services";
import { configOrExit, onShutdown, runMain } from "./process";

/** `npm start`: the whole control plane, the gateway and the agents' stream endpoint in one Node process, and the local agent. */
runMain("kws", async () => {
  const config = configOrExit();
  const logger = createLogger({ service: "kws" }, { level: config.logLevel });
  const services = await createNodeServices(config, logger);
  const gateway = new Gateway({ db: services.db, queue: services.queue, logger, heartbeatMs: config.heartbeatMs, secretBox: services.secretBox });
  await gateway.start();
  const app = createControlPlane(async () => ({ services }));
  const server = serve({ fetch: app.fetch, port: config.port }) as Server;
  const streams = new StreamHub({ db: services.db, logger });
  routeUpgrades(server, [gateway.handleUpgrade, streams.handleUpgrade]);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  logger.info("listening", { port, url: config.publicUrl });
  // The machine's own LXD, when it has one; a failure here leaves the control plane running.
  const localAgent = await startLocalAgent(services, logger, `http://127.0.0.1:${port}`).catch((err: unknown) => {
    logger.error("the local agent did not start", { err });
    return undefined;
  });
  onShutdown(async (signal) => {
    logger.info("stopping", { signal });
    await localAgent?.stop();
    await streams.stop();
    await gateway.stop();
    server.close();
    await services.close();
  });
});

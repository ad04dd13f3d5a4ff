import { createServer } from "node:http";
import { createLogger } from "../../shared/logger";
import { createNodeServices } from "../node-services";
import { configOrExit, onShutdown, runMain } from "../process";
import { routeUpgrades } from "../upgrades";
import { Gateway } from "./gateway";

/**
 * `npm run gateway`: the gateway alone, for deployments that run several gateways (or keep agents'
 * websockets apart from the HTTP API). It shares the database and RabbitMQ with the control plane;
 * the in-process queue and the embedded database cannot be shared, so both must be configured.
 */
runMain("kws gateway", async () => {
  const config = configOrExit((c) => [
    ...(c.databaseUrl ? [] : ["DATABASE_URL: a separate gateway needs the shared PostgreSQL (or run the gateway inside `npm start`)"]),
    ...(c.amqpUrl ? [] : ["AMQP_URL: a separate gateway needs the shared RabbitMQ (or run the gateway inside `npm start`)"]),
  ]);
  const logger = createLogger({ service: "kws-gateway" }, { level: config.logLevel });
  const services = await createNodeServices(config, logger);
  const gateway = new Gateway({ db: services.db, queue: services.queue, logger, heartbeatMs: config.heartbeatMs, secretBox: services.secretBox, metrics: services.metrics });
  await gateway.start();
  const server = createServer((req, res) => {
    const healthy = req.url === "/healthz";
    res.writeHead(healthy ? 200 : 404, { "content-type": "application/json" });
    res.end(
      JSON.stringify(
        healthy
          ? { status: "ok", hosts: gateway.connectedHosts().length }
          : { error: { code: "not_found", message: "the gateway serves /agent/v1/connect and /healthz" } },
      ),
    );
  });
  // Agents' data connections (/agent/v1/streams) belong to the process that runs the ingress, the control plane:
  // agents of this gateway are started with --streams-url pointing there.
  routeUpgrades(server, [gateway.handleUpgrade]);
  server.listen(config.port, () => logger.info("gateway listening", { port: config.port }));
  onShutdown(async (signal) => {
    logger.info("stopping", { signal });
    await gateway.stop();
    server.close();
    await services.close();
  });
});

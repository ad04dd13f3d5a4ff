import { createServer } from "node:http";
import { ConfigError, parseConfig, type Config } from "../../shared/config";
import { createLogger } from "../../shared/logger";
import { createNodeServices } from "../node-services";
import { Gateway } from "./gateway";

/**
 * `npm run gateway`: the gateway alone, for deployments that run several gateways (or keep agents'
 * websockets apart from the HTTP API). It shares the database and RabbitMQ with the control plane;
 * the in-process queue and the embedded database cannot be shared, so both must be configured.
 */
function loadConfig(): Config {
  try {
    const config = parseConfig(process.env);
    const missing = [!config.databaseUrl && "DATABASE_URL", !config.amqpUrl && "AMQP_URL"].filter(Boolean);
    if (missing.length > 0) {
      throw new ConfigError(missing.map((v) => `${v}: a separate gateway process needs the shared ${v === "AMQP_URL" ? "RabbitMQ" : "PostgreSQL"}; set it (or run the gateway inside \`npm start\`)`));
    }
    return config;
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}

async function main() {
  const config = loadConfig();
  const logger = createLogger({ service: "kws-gateway" }, { level: config.logLevel });
  const services = await createNodeServices(config, logger);
  const gateway = new Gateway({ db: services.db, queue: services.queue, logger, heartbeatMs: config.heartbeatMs });
  await gateway.start();
  const server = createServer((req, res) => {
    const healthy = req.url === "/healthz";
    res.writeHead(healthy ? 200 : 404, { "content-type": "application/json" });
    res.end(JSON.stringify(healthy ? { status: "ok", hosts: gateway.connectedHosts().length } : { error: { code: "not_found", message: "the gateway serves /agent/v1/connect and /healthz" } }));
  });
  gateway.attach(server);
  server.listen(config.port, () => logger.info("gateway listening", { port: config.port }));

  const stop = async (signal: string) => {
    logger.info("stopping", { signal });
    await gateway.stop();
    server.close();
    await services.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}

main().catch((err) => {
  console.error(JSON.stringify({ level: "error", msg: "gateway startup failed", error: err instanceof Error ? err.message : String(err) }));
  process.exit(1);
});

import { createLogger } from "../../shared/logger";
import { createNodeServices } from "../node-services";
import { configOrExit, onShutdown, runMain } from "../process";
import { WebhookWorker } from "./worker";

/**
 * `npm run webhooks`: the webhook delivery worker alone, beside control planes that run one each.
 * Workers share the deliveries through the database, so it must be the shared PostgreSQL, and the
 * same KWS_SECRET_KEY (the endpoints' secrets are encrypted with it).
 */
runMain("kws webhooks", async () => {
  const config = configOrExit((c) => [
    ...(c.databaseUrl ? [] : ["DATABASE_URL: a separate webhook worker needs the shared PostgreSQL (or run it inside `npm start`)"]),
  ]);
  const logger = createLogger({ service: "kws-webhooks" }, { level: config.logLevel });
  const services = await createNodeServices(config, logger);
  const worker = new WebhookWorker({ services, logger });
  await worker.start();
  onShutdown(async (signal) => {
    logger.info("stopping", { signal });
    await worker.stop();
    await services.close();
  });
});

import { startNodeControlPlane } from "../functions/node";
import { configOrExit, onShutdown, runMain } from "../functions/process";
import { createLogger } from "../shared/logger";
import { startLocalAgent } from "./local-agent";

/**
 * `npm start`: the control plane (functions/node.ts) and, when this machine has LXD, its local
 * agent, in one Node process. Composed here because functions/ and agent/ never import each other.
 */
runMain("kws", async () => {
  const config = configOrExit();
  const logger = createLogger({ service: "kws" }, { level: config.logLevel });
  const controlPlane = await startNodeControlPlane(config, logger);
  // The machine's own LXD, when it has one; a failure here leaves the control plane running.
  const localAgent = await startLocalAgent(controlPlane.services, logger, `http://127.0.0.1:${controlPlane.port}`).catch((err: unknown) => {
    logger.error("the local agent did not start", { err });
    return undefined;
  });
  onShutdown(async (signal) => {
    logger.info("stopping", { signal });
    await localAgent?.stop();
    await controlPlane.stop();
  });
});

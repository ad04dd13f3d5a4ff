import { once } from "node:events";
import type { AddressInfo } from "node:net";
import type { Config } from "../shared/config";
import type { Logger } from "../shared/logger";
import { UnverifiedAccountSweeper } from "./auth/unverified-accounts";
import { createControlPlane } from "./control-plane";
import { tightenDataDir } from "./data-dir";
import { DomainChecker } from "./domains/checker";
import { configuredGateway } from "./gateway/gateway";
import { IdleChecker } from "./idle/checker";
import { IngressRouter } from "./ingress/router";
import { createHttpServer } from "./ingress/server";
import { SshEndpoint } from "./ssh/endpoint";
import { StreamHub } from "./streams/hub";
import { TunnelHub } from "./tunnels/hub";
import { routeUpgrades } from "./upgrades";
import { WebhookWorker } from "./webhooks/worker";
import { createNodeServices, type NodeServices } from "./node-services";

export interface NodeControlPlane {
  services: NodeServices;
  /** The port the server listens on (config.port, or the one the system chose for 0). */
  port: number;
  stop(): Promise<void>;
}

/**
 * The whole control plane, the gateway and the agents' stream endpoint in one Node process,
 * listening on config.port. main/embedded.ts (`npm start`) runs it beside the local agent.
 */
export async function startNodeControlPlane(config: Config, logger: Logger): Promise<NodeControlPlane> {
  // Embedded state is this user's alone: what this process makes from now on gets no group or
  // other bits, and what an earlier run or PGlite left open is tightened before and after opening.
  process.umask(0o077);
  const loose = await tightenDataDir(config.dataDir);
  if (loose > 0) logger.warn("the data directory was open to other users: tightened it to 0700, its files to the owner alone", { dataDir: config.dataDir, entries: loose });
  const services = await createNodeServices(config, logger);
  await tightenDataDir(config.dataDir);
  const gateway = configuredGateway(config, services, logger);
  await gateway.start();
  const sweeper = new UnverifiedAccountSweeper({ db: services.db, logger });
  sweeper.start();
  const domainChecker = new DomainChecker({ services, logger });
  domainChecker.start();
  const idleChecker = new IdleChecker({ services, logger });
  idleChecker.start();
  const webhooks = new WebhookWorker({ services, logger });
  await webhooks.start();
  const app = createControlPlane(async () => ({ services }));
  // The agents' data connections: the ingress reaches containers through them.
  const streams = new StreamHub({ db: services.db, logger });
  // `kws tunnel` connections, and `kws ssh` through the agents' data connections.
  const tunnels = new TunnelHub({ services });
  const ssh = new SshEndpoint({ services, dialer: streams });
  const router = new IngressRouter({ services, dialer: streams, tunnels });
  const server = createHttpServer(app.fetch, router);
  routeUpgrades(server, [router.handleUpgrade, gateway.handleUpgrade, streams.handleUpgrade, tunnels.handleUpgrade, ssh.handleUpgrade]);
  server.listen(config.port);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  logger.info("listening", { port, url: config.publicUrl, apps: config.appsUrl });
  return {
    services,
    port,
    stop: async () => {
      await tunnels.stop();
      await streams.stop();
      await gateway.stop();
      await sweeper.stop();
      await domainChecker.stop();
      await idleChecker.stop();
      await webhooks.stop();
      server.close();
      await services.close();
    },
  };
}

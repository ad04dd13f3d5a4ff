import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createLogger } from "../../shared/logger";
import { createNodeServices } from "../node-services";
import { configOrExit, onShutdown, runMain } from "../process";
import { SshEndpoint } from "../ssh/endpoint";
import { StreamHub } from "../streams/hub";
import { TunnelHub } from "../tunnels/hub";
import { routeUpgrades } from "../upgrades";
import { IngressRouter } from "./router";

/**
 * `npm run ingress`: the app hosts alone (the IDE and published apps) and the agents' stream endpoint,
 * beside a control plane that
 * keeps the API and pages. Both must share the database (names, apps) and the KV (sign-in codes
 * and grants), so neither may be embedded.
 */
runMain("kws ingress", async () => {
  const config = configOrExit((c) => [
    ...(c.databaseUrl ? [] : ["DATABASE_URL: a separate ingress needs the shared PostgreSQL (or run it inside `npm start`)"]),
    ...(c.redisUrl || c.upstash ? [] : ["REDIS_URL or UPSTASH_REDIS_REST_URL: a separate ingress needs the KV the control plane signs people in with"]),
  ]);
  const logger = createLogger({ service: "kws-ingress" }, { level: config.logLevel });
  const services = await createNodeServices(config, logger);
  // Agents reach this process with --streams-url: the router dials containers through them.
  const streams = new StreamHub({ db: services.db, logger });
  // The CLI's tunnels and SSH connections come here too: they need the router and the agents' streams.
  const tunnels = new TunnelHub({ services });
  const ssh = new SshEndpoint({ services, dialer: streams });
  const router = new IngressRouter({ services, dialer: streams, tunnels });
  const server = createServer((req, res) => router.route(req, res, notASite));
  function notASite(req: IncomingMessage, res: ServerResponse) {
    const healthy = req.url === "/healthz";
    res.writeHead(healthy ? 200 : 404, { "content-type": "application/json" });
    res.end(JSON.stringify(healthy ? { status: "ok" } : { error: { code: "not_found", message: `the ingress serves app hosts under ${config.appsUrl} and verified custom domains only` } }));
  }
  routeUpgrades(server, [router.handleUpgrade, streams.handleUpgrade, tunnels.handleUpgrade, ssh.handleUpgrade]);
  server.listen(config.port, () => logger.info("ingress listening", { port: config.port, apps: config.appsUrl }));
  onShutdown(async (signal) => {
    logger.info("stopping", { signal });
    await tunnels.stop();
    await streams.stop();
    server.close();
    await services.close();
  });
});

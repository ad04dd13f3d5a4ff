import { createServer, type Server } from "node:http";
import { getRequestListener } from "@hono/node-server";
import type { IngressRouter } from "./router";

type Fetch = Parameters<typeof getRequestListener>[0];

/**
 * The control plane's one HTTP server: a request for a site (an app host or a custom domain) goes to the ingress router (raw
 * node:http, so bodies and websockets stream), every other request to the Hono app as before. Upgrades go through routeUpgrades, with the
 * router's handleUpgrade among the handlers.
 */
export function createHttpServer(fetch: Fetch, router: IngressRouter): Server {
  const api = getRequestListener(fetch);
  return createServer((req, res) => router.route(req, res, (r, s) => void api(r, s)));
}

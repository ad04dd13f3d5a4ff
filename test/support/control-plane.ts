import type { Server } from "node:http";
import { Gateway } from "../../functions/gateway/gateway";
import { IngressRouter } from "../../functions/ingress/router";
import { createHttpServer } from "../../functions/ingress/server";
import type { StreamDialer } from "../../functions/ingress/stream-dialer";
import { StreamHub } from "../../functions/streams/hub";
import { TunnelHub } from "../../functions/tunnels/hub";
import { routeUpgrades } from "../../functions/upgrades";
import { defaultRateLimits, type Config } from "../../shared/config";
import { signedInUser, startHarness, type Harness } from "./harness";
import { DirectDialer } from "./direct-dialer";
import { freePort } from "./processes";

export interface RunningControlPlane {
  h: Harness;
  gateway: Gateway;
  /** The agents' stream endpoint, as `npm start` serves it. */
  streams: StreamHub;
  /** `kws tunnel` connections, as `npm start` serves them. */
  tunnels: TunnelHub;
  url: string;
  /** The app-host base: `http://localhost:<port>` (app hosts are `<label>.localhost:<port>`). */
  appsUrl: string;
  /** An admin's session cookie. */
  adminCookie: string;
  close(): Promise<void>;
}

/**
 * The control plane, the gateway and the agents' stream hub on a real HTTP server in this process,
 * over the harness's services (`queue: "memory"` only for benches), with an admin account signed in. App hosts go
 * to the ingress router, which reaches containers with `dialer` (default: directly over TCP; pass
 * "streams" for the hub, through the agents, as `npm start` does).
 */
export async function startControlPlane(
  options: { queue?: "amqp" | "memory"; config?: Partial<Config>; heartbeatMs?: number; dialer?: StreamDialer | "streams" } = {},
): Promise<RunningControlPlane> {
  const adminEmail = `admin.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}@example.org`;
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const port = await freePort();
  const h = await startHarness({
    queue: options.queue,
    config: {
      admins: [adminEmail],
      heartbeatMs,
      // Every agent of a test enrolls from 127.0.0.1.
      rateLimits: { ...defaultRateLimits, enroll: { burst: 10_000, intervalMs: 1 } },
      publicUrl: `http://localhost:${port}`,
      appsUrl: `http://localhost:${port}`,
      ...options.config,
    },
  });
  const gateway = new Gateway({ db: h.services.db, queue: h.services.queue, logger: h.services.logger, heartbeatMs, reaperIntervalMs: 500, secretBox: h.services.secretBox, metrics: h.services.metrics });
  await gateway.start();
  const streams = new StreamHub({ db: h.services.db, logger: h.services.logger });
  const dialer = options.dialer === "streams" ? streams : (options.dialer ?? new DirectDialer());
  const tunnels = new TunnelHub({ services: h.services });
  const router = new IngressRouter({ services: h.services, dialer, tunnels });
  const server: Server = createHttpServer(h.app.fetch, router);
  routeUpgrades(server, [router.handleUpgrade, gateway.handleUpgrade, streams.handleUpgrade, tunnels.handleUpgrade]);
  server.listen(port, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const url = `http://127.0.0.1:${port}`;
  const { cookie } = await signedInUser(h, { email: adminEmail });
  return {
    h,
    gateway,
    streams,
    tunnels,
    url,
    appsUrl: h.services.config.appsUrl,
    adminCookie: cookie,
    close: async () => {
      await tunnels.stop();
      await streams.stop();
      await gateway.stop();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await h.close();
    },
  };
}

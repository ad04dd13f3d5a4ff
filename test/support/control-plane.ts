import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import { Gateway } from "../../functions/gateway/gateway";
import { StreamHub } from "../../functions/streams/hub";
import { routeUpgrades } from "../../functions/upgrades";
import { defaultRateLimits, type Config } from "../../shared/config";
import { hosts } from "../../shared/db/schema";
import { hostQueue } from "../../shared/jobs/queue-names";
import { AmqpQueue } from "../../shared/queue/amqp";
import { MemoryQueue } from "../../shared/queue/memory";
import { signedInUser, startHarness, type Harness } from "./harness";
import { AMQP_URL } from "./local-services";

export interface RunningControlPlane {
  h: Harness;
  gateway: Gateway;
  /** The agents' stream endpoint, as `npm start` serves it. */
  streams: StreamHub;
  url: string;
  /** An admin's session cookie. */
  adminCookie: string;
  close(): Promise<void>;
}

/**
 * The control plane, the gateway and the stream hub on a real HTTP server in this process, over RabbitMQ
 * (default) or the in-process queue, with an admin account signed in.
 */
export async function startControlPlane(
  options: { queue?: "amqp" | "memory"; config?: Partial<Config>; heartbeatMs?: number } = {},
): Promise<RunningControlPlane> {
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const deadLetterQueue = `kws.test.dead.${run}`;
  const queue =
    options.queue === "memory"
      ? new MemoryQueue({ deadLetterQueue })
      : await AmqpQueue.connect({ url: AMQP_URL, deadLetterQueue });
  const adminEmail = `admin.${run}@example.org`;
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const h = await startHarness({
    queue,
    config: {
      admins: [adminEmail],
      heartbeatMs,
      deadLetterQueue,
      // Every agent of a test enrolls from 127.0.0.1.
      rateLimits: { ...defaultRateLimits, enroll: { burst: 10_000, intervalMs: 1 } },
      ...options.config,
    },
  });
  const gateway = new Gateway({ db: h.services.db, queue, logger: h.services.logger, heartbeatMs, reaperIntervalMs: 500, secretBox: h.services.secretBox });
  await gateway.start();
  const server = serve({ fetch: h.app.fetch, port: 0, hostname: "127.0.0.1" }) as Server;
  await new Promise((resolve) => server.once("listening", resolve));
  const streams = new StreamHub({ db: h.services.db, logger: h.services.logger });
  routeUpgrades(server, [gateway.handleUpgrade, streams.handleUpgrade]);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { cookie } = await signedInUser(h, { email: adminEmail });
  return {
    h,
    gateway,
    streams,
    url,
    adminCookie: cookie,
    close: async () => {
      await streams.stop();
      await gateway.stop();
      // Each host's quorum queue lives in the broker beyond this test: remove them, or the broker
      // (about 300 quorum queues fit its file handles here) fills up run after run.
      for (const host of await h.services.db.select({ id: hosts.id }).from(hosts)) {
        await queue.remove(hostQueue(host.id)).catch(() => undefined);
      }
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await queue.remove(deadLetterQueue).catch(() => {});
      await h.close();
    },
  };
}

/**
 * The real Gateway (functions/gateway/gateway.ts) alone on a plain node:http server, for
 * bench/fanin.ts. Run it with --expose-gc so /stats?gc=1 can collect before sampling.
 *
 * Environment: DATABASE_URL (already migrated and filled is fine; migrated again here otherwise),
 * AMQP_URL, KWS_DEAD_LETTER_QUEUE, GATEWAY_HEARTBEAT_MS, LOG_LEVEL (the usual KWS variables), and
 * BENCH_QUEUE: how the gateway reaches RabbitMQ
 *   amqp     the production adapter: one AmqpQueue (one connection, one channel per consumer)
 *   sharded  BENCH_QUEUE_SHARDS AmqpQueue connections, each queue on one of them by a hash of its
 *            name: gets past the broker's channel_max (2047 channels per connection) — bench only
 *   none     a queue that accepts declare/consume and delivers nothing (no broker cost at all)
 *
 * HTTP: GET /stats[?gc=1] → { memory: process.memoryUsage(), cpu: process.cpuUsage(), sessions,
 * uptimeMs }; the agent endpoint is the gateway's own (/agent/v1/connect). stdout: JSON log lines,
 * one {msg:"gateway listening", port} once up.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Gateway } from "../../functions/gateway/gateway";
import { createNodeServices } from "../../functions/node-services";
import { routeUpgrades } from "../../functions/upgrades";
import { parseConfig } from "../../shared/config";
import { createLogger } from "../../shared/logger";
import { AmqpQueue } from "../../shared/queue/amqp";
import type { ConsumeOptions, DeclareOptions, Handler, QueuePort, Subscription } from "../../shared/queue/port";
import { exitWithParent } from "./common";

/** Spreads queues over several adapters (connections) by a hash of the queue name. */
class ShardedQueue implements QueuePort {
  constructor(private readonly shards: AmqpQueue[]) {}

  get deadLetterQueue() {
    return this.shards[0]!.deadLetterQueue;
  }

  private shard(queue: string): AmqpQueue {
    if (queue === this.deadLetterQueue) return this.shards[0]!;
    let h = 0;
    for (let i = 0; i < queue.length; i++) h = (h * 31 + queue.charCodeAt(i)) >>> 0;
    return this.shards[h % this.shards.length]!;
  }

  declare(queue: string, options?: DeclareOptions) {
    return this.shard(queue).declare(queue, options);
  }
  publish(queue: string, body: unknown) {
    return this.shard(queue).publish(queue, body);
  }
  consume<T>(queue: string, handler: Handler<T>, options?: ConsumeOptions): Promise<Subscription> {
    return this.shard(queue).consume(queue, handler, options);
  }
  depth(queue: string) {
    return this.shard(queue).depth(queue);
  }
  remove(queue: string) {
    return this.shard(queue).remove(queue);
  }
  async close() {
    await Promise.all(this.shards.map((s) => s.close()));
  }
}

/** Accepts everything, delivers nothing. */
class NullQueue implements QueuePort {
  constructor(readonly deadLetterQueue: string) {}
  async declare() {}
  async publish() {}
  async consume(): Promise<Subscription> {
    return { cancel: async () => {} };
  }
  async depth() {
    return 0;
  }
  async remove() {}
  async close() {}
}

async function main() {
  const config = parseConfig(process.env);
  const logger = createLogger({ service: "kws-bench-gateway" }, { level: config.logLevel });
  const mode = process.env.BENCH_QUEUE ?? "amqp";
  let queue: QueuePort | undefined;
  if (mode === "none") queue = new NullQueue(config.deadLetterQueue);
  else if (mode === "sharded") {
    if (!config.amqpUrl) throw new Error("BENCH_QUEUE=sharded needs AMQP_URL");
    const n = Math.max(1, Number(process.env.BENCH_QUEUE_SHARDS) || 4);
    const shards = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        AmqpQueue.connect({ url: config.amqpUrl!, deadLetterQueue: config.deadLetterQueue, logger, connectionName: `kws bench gateway ${process.pid} shard ${i}` }),
      ),
    );
    queue = new ShardedQueue(shards);
  } else if (mode !== "amqp") throw new Error(`BENCH_QUEUE must be amqp, sharded or none (not ${mode})`);

  const services = await createNodeServices(config, logger, queue ? { queue } : {});
  const gateway = new Gateway({ db: services.db, queue: services.queue, logger, heartbeatMs: config.heartbeatMs, secretBox: services.secretBox });
  await gateway.start();

  const gc = (globalThis as { gc?: () => void }).gc;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://gateway");
    if (req.method === "GET" && url.pathname === "/stats") {
      if (url.searchParams.get("gc") === "1") {
        if (!gc) {
          res.writeHead(500).end("run with --expose-gc");
          return;
        }
        gc();
        gc();
      }
      const body = JSON.stringify({
        memory: process.memoryUsage(),
        cpu: process.cpuUsage(),
        sessions: gateway.connectedHosts().length,
        uptimeMs: Math.round(process.uptime() * 1000),
      });
      res.writeHead(200, { "content-type": "application/json" }).end(body);
      return;
    }
    res.writeHead(404).end();
  });
  routeUpgrades(server, [gateway.handleUpgrade]);
  server.listen(Number(process.env.PORT) || 0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`${JSON.stringify({ msg: "gateway listening", port, queue: mode, heartbeatMs: config.heartbeatMs })}\n`);
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.warn("stopping", { signal });
    await gateway.stop();
    server.closeAllConnections();
    server.close();
    // Sessions mark their hosts offline as they end; give them a moment before the pool closes.
    await new Promise((r) => setTimeout(r, 500));
    await services.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  exitWithParent(() => stop("parent gone"));
}

main().catch((err: unknown) => {
  process.stdout.write(`${JSON.stringify({ level: "error", msg: "gateway failed", error: err instanceof Error ? (err.stack ?? err.message) : String(err) })}\n`);
  process.exit(1);
});

/**
 * The contract against a real RabbitMQ (AMQP_URL, default the local guest broker), plus what only
 * a network adapter can get wrong: lost connections, an unreachable broker, a broker that is away
 * for a while (simulated by a TCP proxy the test can cut).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, connect as tcpConnect } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { AmqpQueue } from "../../shared/queue/amqp";
import type { AmqpQueueOptions } from "../../shared/queue/amqp";
import { collect, queueContract, uniqueName, withQueue } from "./contract";
import { waitFor } from "./wait";

const url = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";

function make(options: Partial<AmqpQueueOptions> = {}) {
  return AmqpQueue.connect({
    url,
    // Unique per adapter, so tests never see each other's dead letters; removed by withQueue.
    deadLetterQueue: uniqueName("kws.test.dead"),
    reconnect: { initialMs: 50, maxMs: 500 },
    ...options,
  });
}

queueContract("amqp", () => make());

describe("AmqpQueue connection handling", () => {
  const options = { timeout: 15_000 };

  test("a transient queue is its process's alone: others cannot use it, a lost connection declares it again, and it goes with the process", options, async () => {
    const name = uniqueName("kws.test.transient");
    const owner = await make();
    const other = await make();
    try {
      await owner.declare(name, { transient: true });
      const c = await collect<string>(owner, name, { onDelivery: (d) => d.ack() });
      await other.publish(name, "from another process");
      await waitFor(() => c.deliveries.length === 1, 5_000, "a notice published by another process");
      await assert.rejects(other.consume(name, () => undefined), "exclusive: another connection cannot consume it");
      owner.dropConnection();
      await waitFor(async () => (await other.publish(name, "after the reconnect").then(() => true, () => false)), 10_000, "declared again after the reconnect");
      await waitFor(() => c.deliveries.length === 2, 10_000, "the consumer resumed on the new queue");
      await owner.remove(owner.deadLetterQueue);
      await owner.close();
      await waitFor(async () => (await other.depth(name).then(() => false, () => true)), 5_000, "the queue is gone with its connection");
    } finally {
      await owner.close();
      await other.remove(other.deadLetterQueue).catch(() => undefined);
      await other.close();
    }
  });

  test("a lost connection mid-consume: the consumer resumes and gets the unacked message again", options, async () => {
    let adapter: AmqpQueue | undefined;
    await withQueue(async () => (adapter = await make()), async ({ q, queue }) => {
      const name = await queue();
      await q.publish(name, "survivor");
      const c = await collect<string>(q, name, { onDelivery: (d) => (d.deliveryCount > 1 ? d.ack() : undefined) });
      await waitFor(() => c.deliveries.length === 1, 5_000, "the first delivery");
      adapter?.dropConnection();
      await waitFor(() => c.deliveries.length === 2, 10_000, "the redelivery after reconnecting");
      assert.equal(c.deliveries[1]?.body, "survivor");
      // The broker counts the delivery cut off by the lost connection.
      assert.equal(c.deliveries[1]?.deliveryCount, 2);
      // The first delivery's channel is gone: acking it now must neither throw nor ack anything.
      await c.deliveries[0]?.ack();
      await c.sub.cancel();
      assert.equal(await q.depth(name), 0);
    });
  });

  test("publish right after a lost connection waits for the new one and succeeds", options, async () => {
    let adapter: AmqpQueue | undefined;
    await withQueue(async () => (adapter = await make()), async ({ q, queue }) => {
      const name = await queue();
      const c = await collect<number>(q, name, { onDelivery: (d) => d.ack() });
      adapter?.dropConnection();
      await q.publish(name, 1);
      await q.publish(name, 2);
      await waitFor(() => c.deliveries.length === 2, 10_000, "both messages");
      assert.deepEqual(c.bodies(), [1, 2]);
      await c.sub.cancel();
    });
  });

  test("an unreachable broker at startup is a clear error naming AMQP_URL", options, async () => {
    await assert.rejects(AmqpQueue.connect({ url: "amqp://guest:secret@127.0.0.1:1" }), (error: Error) => {
      assert.match(error.message, /AMQP_URL=amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1/);
      assert.doesNotMatch(error.message, /secret/);
      return true;
    });
  });

  describe("a broker that is away for a while", () => {
    let proxy: Proxy;
    before(async () => {
      proxy = await startProxy(new URL(url));
    });
    after(() => proxy.stop());

    test("publish waits out the outage; consumers resume when the broker is back", options, async () => {
      await withQueue(() => make({ url: proxy.url }), async ({ q, queue }) => {
        const name = await queue();
        const c = await collect<string>(q, name, { onDelivery: (d) => d.ack() });
        proxy.cut();
        const published = q.publish(name, "after the outage");
        // Refused connections for a few reconnect attempts, then the broker is reachable again.
        setTimeout(() => proxy.restore(), 300);
        await published;
        await waitFor(() => c.deliveries.length === 1, 10_000, "the delivery after the outage");
        await c.sub.cancel();
      });
    });

    test("an outage longer than waitMs rejects publish with a clear error", options, async () => {
      await withQueue(() => make({ url: proxy.url, waitMs: 300 }), async ({ q, queue }) => {
        const name = await queue();
        proxy.cut();
        try {
          await assert.rejects(q.publish(name, "too late"), /connection \(AMQP_URL\) lost and not back within 300 ms/);
        } finally {
          proxy.restore();
        }
        // Back again: the adapter reconnects on its own.
        await q.publish(name, "in time");
        assert.equal(await q.depth(name), 1);
      });
    });
  });
});

interface Proxy {
  url: string;
  /** Drops every connection and refuses new ones, like a broker that went away. */
  cut(): void;
  restore(): void;
  stop(): Promise<void>;
}

/** A TCP proxy in front of the broker whose plug the test can pull. */
async function startProxy(target: URL): Promise<Proxy> {
  const sockets = new Set<Socket>();
  let up = true;
  const server: Server = createServer((client) => {
    if (!up) return client.destroy();
    const upstream = tcpConnect(Number(target.port || 5672), target.hostname);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from);
      from.on("error", () => to.destroy());
      from.on("close", () => {
        sockets.delete(from);
        to.destroy();
      });
      from.pipe(to);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const proxied = new URL(target);
  proxied.host = `127.0.0.1:${port}`;
  return {
    url: proxied.toString(),
    cut() {
      up = false;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      up = true;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

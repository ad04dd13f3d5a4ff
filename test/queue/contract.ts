/**
 * The QueuePort contract, run against every adapter (memory.test.ts, amqp.test.ts) so they
 * cannot drift apart. Every test gets a fresh adapter and unique queue names, and removes them.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Delivery, QueuePort, Subscription } from "../../shared/queue/port";
import { holdsFor, waitFor } from "./wait";

export interface Scope {
  q: QueuePort;
  /** A fresh, declared queue that is removed after the test. */
  queue(maxAttempts?: number): Promise<string>;
}

let counter = 0;

export function uniqueName(prefix = "kws.test"): string {
  counter += 1;
  return `${prefix}.${process.pid}.${Date.now().toString(36)}.${counter}`;
}

/** Runs `body` on a fresh adapter; removes the queues it declared and the dead-letter queue, then closes. */
export async function withQueue(make: () => Promise<QueuePort>, body: (scope: Scope) => Promise<void>): Promise<void> {
  const q = await make();
  const names: string[] = [];
  const scope: Scope = {
    q,
    async queue(maxAttempts) {
      const name = uniqueName();
      names.push(name);
      await q.declare(name, maxAttempts === undefined ? undefined : { maxAttempts });
      return name;
    },
  };
  try {
    await body(scope);
  } finally {
    for (const name of [...names, q.deadLetterQueue]) await q.remove(name);
    await q.close();
  }
}

export interface Collector<T> {
  deliveries: Delivery<T>[];
  bodies(): T[];
  sub: Subscription;
}

/** Consumes `queue`, recording every delivery; `onDelivery` decides what to do with it (default: nothing). */
export async function collect<T>(
  q: QueuePort,
  queue: string,
  options: { prefetch?: number; onDelivery?: (delivery: Delivery<T>) => void | Promise<void> } = {},
): Promise<Collector<T>> {
  const deliveries: Delivery<T>[] = [];
  const sub = await q.consume<T>(
    queue,
    async (delivery) => {
      deliveries.push(delivery);
      await options.onDelivery?.(delivery);
    },
    { prefetch: options.prefetch },
  );
  return { deliveries, bodies: () => deliveries.map((d) => d.body), sub };
}

const ack = (d: Delivery<unknown>) => d.ack();

export function queueContract(name: string, make: () => Promise<QueuePort>): void {
  const check = (title: string, body: (scope: Scope) => Promise<void>) =>
    test(title, { timeout: 15_000 }, () => withQueue(make, body));

  describe(`QueuePort contract: ${name}`, () => {
    check("publish, consume, ack: delivered once, then gone", async ({ q, queue }) => {
      const name = await queue();
      await q.publish(name, { job: "build", n: 1 });
      const c = await collect<{ job: string; n: number }>(q, name, { onDelivery: ack });
      await waitFor(() => c.deliveries.length === 1, 5_000, "the delivery");
      assert.deepEqual(c.deliveries[0]?.body, { job: "build", n: 1 });
      assert.equal(c.deliveries[0]?.deliveryCount, 1);
      // Cancelling hands back anything unacknowledged; an acked message must not come back.
      await c.sub.cancel();
      const next = await collect(q, name);
      await holdsFor(() => next.deliveries.length === 0, 300, "no redelivery");
      assert.equal(await q.depth(name), 0);
      await next.sub.cancel();
    });

    check("FIFO order", async ({ q, queue }) => {
      const name = await queue();
      const sent = Array.from({ length: 20 }, (_, i) => i);
      for (const n of sent) await q.publish(name, n);
      const c = await collect<number>(q, name, { prefetch: 4, onDelivery: ack });
      await waitFor(() => c.deliveries.length === sent.length, 5_000, "all deliveries");
      assert.deepEqual(c.bodies(), sent);
      await c.sub.cancel();
    });

    check("retry: redelivered with deliveryCount 2", async ({ q, queue }) => {
      const name = await queue();
      await q.publish(name, "again");
      const c = await collect<string>(q, name, {
        onDelivery: (d) => (d.deliveryCount === 1 ? d.retry() : d.ack()),
      });
      await waitFor(() => c.deliveries.length === 2, 5_000, "the redelivery");
      assert.deepEqual(
        c.deliveries.map((d) => [d.body, d.deliveryCount]),
        [
          ["again", 1],
          ["again", 2],
        ],
      );
      await c.sub.cancel();
      assert.equal(await q.depth(name), 0);
    });

    check("a handler that throws gets its delivery retried", async ({ q, queue }) => {
      const name = await queue();
      await q.publish(name, "boom");
      const c = await collect<string>(q, name, {
        onDelivery: (d) => {
          if (d.deliveryCount === 1) throw new Error("handler failure (expected by the test)");
          return d.ack();
        },
      });
      await waitFor(() => c.deliveries.length === 2, 5_000, "the redelivery");
      assert.equal(c.deliveries[1]?.deliveryCount, 2);
      await c.sub.cancel();
    });

    check("maxAttempts used up: exactly that many deliveries, then the dead-letter queue", async ({ q, queue }) => {
      const name = await queue(3);
      await q.publish(name, { poison: true });
      const work = await collect<{ poison: boolean }>(q, name, { onDelivery: (d) => d.retry() });
      const dead = await collect<{ poison: boolean }>(q, q.deadLetterQueue, { onDelivery: ack });
      await waitFor(() => dead.deliveries.length === 1, 5_000, "the dead-lettered message");
      assert.deepEqual(dead.deliveries[0]?.body, { poison: true });
      // The dead-letter queue counts its own deliveries from 1.
      assert.equal(dead.deliveries[0]?.deliveryCount, 1);
      assert.deepEqual(
        work.deliveries.map((d) => d.deliveryCount),
        [1, 2, 3],
      );
      assert.equal(await q.depth(name), 0);
      await work.sub.cancel();
      await dead.sub.cancel();
    });

    check("maxAttempts 1: dead-lettered after the first retry", async ({ q, queue }) => {
      const name = await queue(1);
      await q.publish(name, "once");
      const work = await collect<string>(q, name, { onDelivery: (d) => d.retry() });
      const dead = await collect<string>(q, q.deadLetterQueue, { onDelivery: ack });
      await waitFor(() => dead.deliveries.length === 1, 5_000, "the dead-lettered message");
      assert.equal(work.deliveries.length, 1);
      await work.sub.cancel();
      await dead.sub.cancel();
    });

    check("cancel: unacked deliveries go to the next consumer; a late ack is a no-op", async ({ q, queue }) => {
      const name = await queue(5);
      await q.publish(name, "a");
      await q.publish(name, "b");
      const first = await collect<string>(q, name);
      await waitFor(() => first.deliveries.length === 2, 5_000, "both deliveries");
      await first.sub.cancel();
      for (const d of first.deliveries) await d.ack();
      const second = await collect<string>(q, name, { onDelivery: ack });
      await waitFor(() => second.deliveries.length === 2, 5_000, "both redeliveries");
      assert.deepEqual(second.bodies(), ["a", "b"]);
      // Handing back on cancel counts as a delivery attempt, as on quorum queues.
      assert.deepEqual(
        second.deliveries.map((d) => d.deliveryCount),
        [2, 2],
      );
      await second.sub.cancel();
      assert.equal(await q.depth(name), 0);
    });

    check("a message handed back by cancel maxAttempts times is dead-lettered", async ({ q, queue }) => {
      const name = await queue(2);
      await q.publish(name, "crashy");
      for (let round = 1; round <= 2; round += 1) {
        const c = await collect<string>(q, name);
        await waitFor(() => c.deliveries.length === 1, 5_000, `delivery ${round}`);
        assert.equal(c.deliveries[0]?.deliveryCount, round);
        await c.sub.cancel();
      }
      const dead = await collect<string>(q, q.deadLetterQueue, { onDelivery: ack });
      await waitFor(() => dead.deliveries.length === 1, 5_000, "the dead-lettered message");
      assert.equal(await q.depth(name), 0);
      await dead.sub.cancel();
    });

    check("single active consumer: the second one waits, then takes over on cancel", async ({ q, queue }) => {
      const name = await queue();
      const a = await collect<number>(q, name, { onDelivery: ack });
      const b = await collect<number>(q, name, { onDelivery: ack });
      for (const n of [1, 2, 3]) await q.publish(name, n);
      await waitFor(() => a.deliveries.length === 3, 5_000, "A to get every message");
      assert.equal(b.deliveries.length, 0);
      await a.sub.cancel();
      for (const n of [4, 5]) await q.publish(name, n);
      await waitFor(() => b.deliveries.length === 2, 5_000, "B to take over");
      assert.deepEqual(b.bodies(), [4, 5]);
      assert.equal(a.deliveries.length, 3);
      await b.sub.cancel();
    });

    check("prefetch bounds unacknowledged deliveries", async ({ q, queue }) => {
      const name = await queue();
      for (const n of [1, 2, 3, 4, 5]) await q.publish(name, n);
      const c = await collect<number>(q, name, { prefetch: 2 });
      const inFlight = async () => c.deliveries.length === 2 && (await q.depth(name)) === 3;
      await waitFor(inFlight, 5_000, "2 in flight, 3 waiting");
      await holdsFor(() => c.deliveries.length === 2, 200, "2 deliveries in flight");
      await c.deliveries[0]?.ack();
      await waitFor(() => c.deliveries.length === 3, 5_000, "the third delivery");
      assert.deepEqual(c.bodies(), [1, 2, 3]);
      await holdsFor(() => c.deliveries.length === 3, 100, "3 deliveries");
      // Given-back deliveries reach a quorum queue asynchronously, shortly after the cancel.
      await c.sub.cancel();
      await waitFor(async () => (await q.depth(name)) === 4, 5_000, "depth 4 after the cancel");
    });

    check("depth counts waiting messages, not unacknowledged ones", async ({ q, queue }) => {
      const name = await queue();
      assert.equal(await q.depth(name), 0);
      for (const n of [1, 2, 3]) await q.publish(name, n);
      assert.equal(await q.depth(name), 3);
      const c = await collect<number>(q, name, { prefetch: 1 });
      await waitFor(async () => (await q.depth(name)) === 2, 5_000, "depth 2");
      await c.sub.cancel();
      await waitFor(async () => (await q.depth(name)) === 3, 5_000, "depth 3 after the cancel");
      await assert.rejects(q.depth(uniqueName("kws.test.missing")));
    });

    check("declare is idempotent", async ({ q, queue }) => {
      const name = await queue(4);
      await q.publish(name, "kept");
      await q.declare(name, { maxAttempts: 4 });
      assert.equal(await q.depth(name), 1);
    });

    check("remove deletes the queue and its messages", async ({ q, queue }) => {
      const name = await queue();
      await q.publish(name, "doomed");
      await q.remove(name);
      await assert.rejects(q.depth(name));
      await assert.rejects(q.publish(name, "nowhere"), /does not exist/);
      // Removing what is not there is fine (a host deleted twice).
      await q.remove(name);
      await q.declare(name);
      assert.equal(await q.depth(name), 0);
    });

    check("publish to an undeclared queue rejects instead of dropping the message", async ({ q }) => {
      await assert.rejects(q.publish(uniqueName("kws.test.undeclared"), "lost?"), /does not exist/);
    });
  });
}

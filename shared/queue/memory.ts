/**
 * In-process QueuePort (the embedded default). It mimics RabbitMQ quorum queues closely enough
 * that one contract suite passes on both: a delivery counts as an attempt whether it comes back
 * through retry() or through a cancelled consumer, given-back messages are delivered before the
 * rest (as quorum queues did up to 3.x), and only the first consumer of a queue receives.
 * Nothing survives the process.
 */
import type { Logger } from "../logger";
import type { ConsumeOptions, DeclareOptions, Delivery, Handler, QueuePort, Subscription } from "./port";

type QueueLogger = Pick<Logger, "info" | "warn" | "error">;

interface Message {
  /** Kept as JSON so every delivery hands out a fresh copy, as a broker would. */
  json: string;
  deliveries: number;
}

interface WorkQueue {
  maxAttempts: number;
  /** Messages given back by retry() or a cancel; served before `ready`. */
  returned: Message[];
  ready: Message[];
  /** The first one is the active consumer; the others wait their turn. */
  consumers: Consumer[];
}

interface Consumer {
  queue: WorkQueue;
  handler: Handler<unknown>;
  prefetch: number;
  /** One entry per delivery (not per message), so a stale delivery cannot settle a redelivery. */
  unacked: Set<{ message: Message }>;
  cancelled: boolean;
}

export class MemoryQueue implements QueuePort {
  readonly deadLetterQueue: string;
  private readonly queues = new Map<string, WorkQueue>();
  private readonly logger?: QueueLogger;
  private closed = false;

  constructor(options: { deadLetterQueue?: string; logger?: QueueLogger } = {}) {
    this.deadLetterQueue = options.deadLetterQueue ?? "kws.dead";
    this.logger = options.logger;
    this.queues.set(this.deadLetterQueue, emptyQueue(Number.POSITIVE_INFINITY));
  }

  async declare(queue: string, options: DeclareOptions = {}): Promise<void> {
    this.assertOpen();
    if (queue === this.deadLetterQueue) return;
    const maxAttempts = checkedCount("maxAttempts", options.maxAttempts ?? 3);
    const existing = this.queues.get(queue);
    // RabbitMQ refuses to re-declare a queue with different arguments; so does this adapter.
    if (existing && existing.maxAttempts !== maxAttempts) {
      throw new Error(`queue "${queue}" already exists with maxAttempts ${existing.maxAttempts}, not ${maxAttempts}`);
    }
    if (!existing) this.queues.set(queue, emptyQueue(maxAttempts));
  }

  async publish(queue: string, body: unknown): Promise<void> {
    this.assertOpen();
    const json = encode(body);
    const target = this.existing(queue);
    target.ready.push({ json, deliveries: 0 });
    this.dispatch(target);
  }

  async consume<T>(queue: string, handler: Handler<T>, options: ConsumeOptions = {}): Promise<Subscription> {
    this.assertOpen();
    const consumer: Consumer = {
      queue: this.existing(queue),
      handler: handler as Handler<unknown>,
      prefetch: checkedCount("prefetch", options.prefetch ?? 16),
      unacked: new Set(),
      cancelled: false,
    };
    consumer.queue.consumers.push(consumer);
    this.dispatch(consumer.queue);
    return { cancel: async () => this.cancel(consumer) };
  }

  async depth(queue: string): Promise<number> {
    this.assertOpen();
    const target = this.existing(queue);
    return target.returned.length + target.ready.length;
  }

  async remove(queue: string): Promise<void> {
    this.assertOpen();
    const target = this.queues.get(queue);
    if (!target) return;
    stopConsumers(target);
    this.queues.delete(queue);
    // The dead-letter queue always exists; removing it only drops its messages.
    if (queue === this.deadLetterQueue) this.queues.set(queue, emptyQueue(Number.POSITIVE_INFINITY));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const target of this.queues.values()) stopConsumers(target);
  }

  private dispatch(target: WorkQueue): void {
    const active = target.consumers[0];
    if (!active) return;
    while (active.unacked.size < active.prefetch) {
      const message = target.returned.shift() ?? target.ready.shift();
      if (!message) return;
      message.deliveries += 1;
      const entry = { message };
      active.unacked.add(entry);
      // Asynchronous like a network hop: publish() and ack() never run a handler re-entrantly.
      setImmediate(() => this.deliver(active, entry));
    }
  }

  private deliver(consumer: Consumer, entry: { message: Message }): void {
    if (!consumer.unacked.has(entry)) return;
    const settle = (requeue: boolean) => async () => {
      // Already settled, or taken back by cancel(): the message belongs to someone else now.
      if (!consumer.unacked.delete(entry)) return;
      if (requeue) this.giveBack(consumer.queue, [entry.message]);
      this.dispatch(consumer.queue);
    };
    const delivery: Delivery<unknown> = {
      body: JSON.parse(entry.message.json),
      deliveryCount: entry.message.deliveries,
      ack: settle(false),
      retry: settle(true),
    };
    void runHandler(consumer.handler, delivery, this.logger);
  }

  /** Every delivery was an attempt; the ones that used up their attempts go to the dead-letter queue. */
  private giveBack(target: WorkQueue, messages: Message[]): void {
    for (const message of messages) {
      if (message.deliveries < target.maxAttempts) target.returned.push(message);
      else this.deadLetter(message);
    }
  }

  private deadLetter(message: Message): void {
    const dead = this.existing(this.deadLetterQueue);
    dead.ready.push({ json: message.json, deliveries: 0 });
    this.dispatch(dead);
  }

  private cancel(consumer: Consumer): void {
    if (consumer.cancelled) return;
    consumer.cancelled = true;
    const target = consumer.queue;
    target.consumers = target.consumers.filter((c) => c !== consumer);
    const unacked = [...consumer.unacked].map((entry) => entry.message);
    consumer.unacked.clear();
    this.giveBack(target, unacked);
    this.dispatch(target);
  }

  private existing(queue: string): WorkQueue {
    const target = this.queues.get(queue);
    if (!target) throw new Error(`queue "${queue}" does not exist (declare it first)`);
    return target;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("queue adapter is closed");
  }
}

function emptyQueue(maxAttempts: number): WorkQueue {
  return { maxAttempts, returned: [], ready: [], consumers: [] };
}

/** Its messages are going away with it, so unacknowledged ones are dropped, not given back. */
function stopConsumers(target: WorkQueue): void {
  for (const consumer of target.consumers) {
    consumer.cancelled = true;
    consumer.unacked.clear();
  }
  target.consumers = [];
}

/** Shared with amqp.ts (as are encode and runHandler), so both adapters validate and fail alike. */
export function checkedCount(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a whole number >= 1, got ${value}`);
  return value;
}

export function encode(body: unknown): string {
  const json = JSON.stringify(body);
  if (json === undefined) throw new TypeError("queue message body must be JSON-serializable");
  return json;
}

/** A handler that throws gets its delivery retried rather than left unacknowledged forever. */
export async function runHandler(handler: Handler<unknown>, delivery: Delivery<unknown>, logger?: QueueLogger) {
  try {
    await handler(delivery);
  } catch (error) {
    logger?.error("queue handler failed; retrying the message", { error, deliveryCount: delivery.deliveryCount });
    await delivery.retry();
  }
}

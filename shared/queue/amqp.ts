/**
 * RabbitMQ adapter of QueuePort (AMQP_URL), on amqplib's promise API.
 *
 * Work queues are quorum queues: replicated, and they count deliveries themselves (the
 * x-delivery-count header), so attempts are bounded even when a consumer crashes mid-message.
 * With x-delivery-limit L the broker delivers a message L + 1 times, counting both nacks with
 * requeue and deliveries handed back by a closed channel, then dead-letters it (verified on
 * RabbitMQ 3.10.8); hence L = maxAttempts - 1.
 *
 * One connection; a confirm channel for publishing, one channel per consumer (so prefetch and
 * cancel are per consumer) and a short-lived channel for each declare/depth/remove (a failed
 * queue operation closes its channel). When the connection is lost the adapter reconnects with
 * backoff, re-declares its queues and resumes every consumer that was not cancelled.
 */
import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import { connect } from "amqplib";
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from "amqplib";
import type { Logger } from "../logger";
import { checkedCount, encode, runHandler } from "./memory";
import type { ConsumeOptions, DeclareOptions, Delivery, Handler, QueuePort, Subscription } from "./port";

type QueueLogger = Pick<Logger, "info" | "warn" | "error">;

export interface AmqpQueueOptions {
  url: string;
  /** Default "kws.dead". */
  deadLetterQueue?: string;
  logger?: QueueLogger;
  /** Delay before reconnecting, doubled after each failed attempt up to maxMs. Default 200 ms .. 15 s. */
  reconnect?: { initialMs: number; maxMs: number };
  /** How long an operation waits for a lost connection to come back before it rejects. Default 10 s. */
  waitMs?: number;
  /** The connection's name at the broker; default "kws pid <pid>". */
  connectionName?: string;
}

interface Subscriber {
  queue: string;
  handler: Handler<unknown>;
  prefetch: number;
  cancelled: boolean;
  channel?: Channel;
  /** Replaced on every (re)start, so a start overtaken by a newer one gives up instead of consuming twice. */
  attempt: object;
}

interface Publisher {
  conn: ChannelModel;
  ready: Promise<{ channel: ConfirmChannel; returned: Set<string> }>;
}

interface Waiter {
  resolve(conn: ChannelModel): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

const silent: QueueLogger = { info() {}, warn() {}, error() {} };

export class AmqpQueue implements QueuePort {
  readonly deadLetterQueue: string;
  private readonly deadLetterExchange: string;
  private readonly url: string;
  private readonly logger: QueueLogger;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly waitMs: number;
  /** Shown by the broker (rabbitmqctl list_connections client_properties), so operators can tell processes apart. */
  private readonly connectionName: string;

  private conn?: ChannelModel;
  private establishing?: Promise<void>;
  private publisher?: Publisher;
  /** Queues to re-declare after a reconnect, with how they were declared. */
  private readonly declared = new Map<string, Required<DeclareOptions>>();
  private readonly subscribers = new Set<Subscriber>();
  private readonly waiters = new Set<Waiter>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  /** Connects (once, no retry: a wrong AMQP_URL should fail startup loudly) and declares the dead-letter queue. */
  static async connect(options: AmqpQueueOptions): Promise<AmqpQueue> {
    const queue = new AmqpQueue(options);
    try {
      await queue.establish();
    } catch (error) {
      throw new Error(`cannot connect to RabbitMQ at AMQP_URL=${redact(options.url)}: ${messageOf(error)}`, {
        cause: error,
      });
    }
    return queue;
  }

  private constructor(options: AmqpQueueOptions) {
    this.url = options.url;
    this.deadLetterQueue = options.deadLetterQueue ?? "kws.dead";
    this.deadLetterExchange = `${this.deadLetterQueue}.dlx`;
    this.logger = options.logger ?? silent;
    this.backoff = options.reconnect ?? { initialMs: 200, maxMs: 15_000 };
    this.waitMs = options.waitMs ?? 10_000;
    this.connectionName = options.connectionName ?? `kws pid ${process.pid}`;
  }

  async declare(queue: string, options: DeclareOptions = {}): Promise<void> {
    if (queue === this.deadLetterQueue) return;
    const declare = { maxAttempts: checkedCount("maxAttempts", options.maxAttempts ?? 3), transient: options.transient ?? false };
    // Declared by this process already (and re-declared after every reconnect): no broker round trip.
    const known = this.declared.get(queue);
    if (known?.maxAttempts === declare.maxAttempts && known.transient === declare.transient) return;
    await this.withConnection((conn) => withChannel(conn, (ch) => this.assertWorkQueue(ch, queue, declare)));
    this.declared.set(queue, declare);
  }

  async publish(queue: string, body: unknown): Promise<void> {
    const content = Buffer.from(encode(body));
    // If the connection drops before the confirm, the broker may or may not have the message:
    // publishing it again keeps the at-least-once promise.
    await this.withConnection((conn) => this.publishConfirmed(conn, queue, content));
  }

  async consume<T>(queue: string, handler: Handler<T>, options: ConsumeOptions = {}): Promise<Subscription> {
    const sub: Subscriber = {
      queue,
      handler: handler as Handler<unknown>,
      prefetch: checkedCount("prefetch", options.prefetch ?? 16),
      cancelled: false,
      attempt: {},
    };
    try {
      await this.withConnection((conn) => this.startConsumer(sub, conn));
    } catch (error) {
      sub.cancelled = true;
      throw error;
    }
    this.subscribers.add(sub);
    return { cancel: () => this.cancel(sub) };
  }

  async depth(queue: string): Promise<number> {
    const ok = await this.withConnection((conn) => withChannel(conn, (ch) => ch.checkQueue(queue)));
    return ok.messageCount;
  }

  /** Removing the dead-letter queue also removes its exchange: that is tearing down, e.g. after a test. */
  async remove(queue: string): Promise<void> {
    this.declared.delete(queue);
    const mine = [...this.subscribers].filter((sub) => sub.queue === queue);
    await Promise.all(mine.map((sub) => this.cancel(sub)));
    await this.withConnection((conn) =>
      withChannel(conn, async (ch) => {
        await ch.deleteQueue(queue);
        if (queue === this.deadLetterQueue) await ch.deleteExchange(this.deadLetterExchange);
      }),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error("queue adapter is closed"));
    }
    this.waiters.clear();
    for (const sub of this.subscribers) sub.cancelled = true;
    this.subscribers.clear();
    // A connection still being opened is closed by establish() once it sees `closed`.
    await this.establishing?.catch(() => {});
    const conn = this.conn;
    this.conn = undefined;
    // Closing the connection hands every unacknowledged delivery back to its queue.
    await conn?.close().catch(() => {});
  }

  /** Test hook: drops the TCP connection the way a network failure would; the adapter must recover. */
  dropConnection(): void {
    const socket = (this.conn?.connection as unknown as { stream?: Socket } | undefined)?.stream;
    socket?.destroy(new Error("connection dropped on purpose (test hook)"));
  }

  // --- connection lifecycle ---

  private establish(): Promise<void> {
    this.establishing = this.openConnection().finally(() => (this.establishing = undefined));
    return this.establishing;
  }

  private async openConnection(): Promise<void> {
    const conn = await connect(this.url, {
      timeout: 10_000,
      // Without it Nagle's algorithm holds small frames back: ~40 ms per publish→consume instead of ~0.5 ms.
      noDelay: true,
      clientProperties: { connection_name: this.connectionName },
    });
    let alive = true;
    // Without an 'error' listener a broker-side close would crash the process.
    conn.on("error", (error: Error) => this.logger.warn("amqp connection error", { error: error.message }));
    conn.on("blocked", (reason: string) => this.logger.warn("amqp connection blocked by the broker", { reason }));
    conn.on("unblocked", () => this.logger.info("amqp connection unblocked"));
    conn.once("close", (error?: Error) => {
      alive = false;
      if (this.conn === conn) this.connectionLost(error);
    });
    try {
      await withChannel(conn, (ch) => this.assertDeadLetterQueue(ch));
      for (const [queue, declare] of this.declared) {
        if (!alive) break;
        // One queue that cannot be re-declared (changed elsewhere) must not keep the others down.
        await withChannel(conn, (ch) => this.assertWorkQueue(ch, queue, declare)).catch((error: unknown) => {
          if (alive) this.logger.error("amqp cannot re-declare queue", { queue, error: messageOf(error) });
        });
      }
      if (!alive) throw new Error("connection closed while declaring queues");
    } catch (error) {
      await conn.close().catch(() => {});
      throw error;
    }
    if (this.closed) {
      await conn.close().catch(() => {});
      return;
    }
    this.conn = conn;
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(conn);
    }
    this.waiters.clear();
    for (const sub of this.subscribers) this.resume(sub, this.backoff.initialMs);
  }

  private connectionLost(error?: Error): void {
    this.conn = undefined;
    this.publisher = undefined;
    for (const sub of this.subscribers) sub.channel = undefined;
    if (this.closed) return;
    this.logger.warn("amqp connection lost; reconnecting", { error: error?.message });
    this.reconnectAfter(this.backoff.initialMs);
  }

  private reconnectAfter(delayMs: number): void {
    this.later(delayMs, () => {
      this.establish().then(
        () => {
          if (!this.closed) this.logger.info("amqp connection re-established");
        },
        (error: unknown) => {
          if (this.closed) return;
          const next = Math.min(delayMs * 2, this.backoff.maxMs);
          this.logger.warn("amqp reconnect failed", { error: messageOf(error), retryInMs: next });
          this.reconnectAfter(next);
        },
      );
    });
  }

  /**
   * Runs `op` on a live connection. While the adapter is reconnecting it waits (at most waitMs)
   * for the new connection, and runs `op` again if the connection was lost under it.
   */
  private async withConnection<T>(op: (conn: ChannelModel) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      const conn = await this.connection(deadline);
      try {
        return await op(conn);
      } catch (error) {
        const lostUnderUs = this.conn !== conn && !this.closed;
        if (!lostUnderUs || Date.now() >= deadline) throw error;
      }
    }
  }

  private connection(deadline: number): Promise<ChannelModel> {
    if (this.closed) return Promise.reject(new Error("queue adapter is closed"));
    if (this.conn) return Promise.resolve(this.conn);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(
          () => {
            this.waiters.delete(waiter);
            reject(new Error(`RabbitMQ connection (AMQP_URL) lost and not back within ${this.waitMs} ms`));
          },
          Math.max(0, deadline - Date.now()),
        ),
      };
      this.waiters.add(waiter);
    });
  }

  private later(delayMs: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, delayMs);
    this.timers.add(timer);
  }

  // --- topology ---

  private async assertDeadLetterQueue(ch: Channel): Promise<void> {
    await ch.assertExchange(this.deadLetterExchange, "fanout", { durable: true });
    // No delivery limit: a dead message is never dropped, however often it is retried.
    await ch.assertQueue(this.deadLetterQueue, {
      durable: true,
      arguments: { "x-queue-type": "quorum", "x-single-active-consumer": true },
    });
    await ch.bindQueue(this.deadLetterQueue, this.deadLetterExchange, "");
  }

  private async assertWorkQueue(ch: Channel, queue: string, { maxAttempts, transient }: Required<DeclareOptions>): Promise<void> {
    if (transient) {
      // Classic and exclusive: no quorum (Raft log, file handles) for messages that may be lost.
      await ch.assertQueue(queue, { durable: false, exclusive: true, arguments: { "x-queue-type": "classic" } });
      return;
    }
    await ch.assertQueue(queue, {
      durable: true,
      arguments: {
        "x-queue-type": "quorum",
        "x-single-active-consumer": true,
        "x-delivery-limit": maxAttempts - 1,
        "x-dead-letter-exchange": this.deadLetterExchange,
        // At-least-once dead-lettering keeps the message until the dead-letter queue confirms it
        // (the default drops it if that fails); the broker requires reject-publish overflow for it.
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
      },
    });
  }

  // --- publishing ---

  private async publishConfirmed(conn: ChannelModel, queue: string, content: Buffer): Promise<void> {
    const { channel, returned } = await this.publisherOn(conn);
    const messageId = randomUUID();
    await new Promise<void>((resolve, reject) => {
      // mandatory: a message no queue takes comes back (basic.return, before its confirm)
      // instead of being confirmed and silently dropped.
      const options = { persistent: true, contentType: "application/json", mandatory: true, messageId };
      channel.sendToQueue(queue, content, options, (error: unknown) => {
        const unroutable = returned.delete(messageId);
        if (error) reject(error instanceof Error ? error : new Error(`publish to "${queue}" failed: ${String(error)}`));
        else if (unroutable) reject(new Error(`queue "${queue}" does not exist (declare it first)`));
        else resolve();
      });
    });
  }

  private publisherOn(conn: ChannelModel): Promise<{ channel: ConfirmChannel; returned: Set<string> }> {
    if (this.publisher?.conn === conn) return this.publisher.ready;
    const publisher: Publisher = {
      conn,
      ready: conn.createConfirmChannel().then((channel) => {
        const returned = new Set<string>();
        channel.on("return", (message: ConsumeMessage) => {
          if (typeof message.properties.messageId === "string") returned.add(message.properties.messageId);
        });
        channel.on("error", (error: Error) => this.logger.warn("amqp publish channel error", { error: error.message }));
        channel.once("close", () => {
          if (this.publisher === publisher) this.publisher = undefined;
        });
        return { channel, returned };
      }),
    };
    publisher.ready.catch(() => {
      if (this.publisher === publisher) this.publisher = undefined;
    });
    this.publisher = publisher;
    return publisher.ready;
  }

  // --- consuming ---

  /** Sets sub.attempt before its first await, so the caller can tell this start from a later one. */
  private async startConsumer(sub: Subscriber, conn: ChannelModel): Promise<void> {
    const attempt = {};
    sub.attempt = attempt;
    const superseded = () => sub.cancelled || sub.attempt !== attempt;
    const ch = await conn.createChannel();
    if (superseded()) return closeQuietly(ch);
    let open = true;
    ch.on("error", (error: Error) =>
      this.logger.warn("amqp consumer channel error", { queue: sub.queue, error: error.message }),
    );
    ch.once("close", () => {
      open = false;
      if (sub.channel !== ch || superseded()) return;
      sub.channel = undefined;
      // A channel that died on its own (the connection is fine) is restarted here; after a lost
      // connection the reconnect resumes every consumer.
      if (this.conn === conn) this.resume(sub, this.backoff.initialMs);
    });
    sub.channel = ch;
    await ch.prefetch(sub.prefetch);
    if (superseded()) return closeQuietly(ch);
    await ch.consume(sub.queue, (message) => {
      if (message === null) return this.consumerCancelledByBroker(sub, ch);
      // Cancelling: closing the channel hands this one back.
      if (sub.cancelled) return;
      this.deliver(sub, ch, message, () => open);
    });
    if (superseded()) closeQuietly(ch);
  }

  private deliver(sub: Subscriber, ch: Channel, message: ConsumeMessage, channelOpen: () => boolean): void {
    let body: unknown;
    try {
      body = JSON.parse(message.content.toString("utf8"));
    } catch {
      // Not ours (nothing we publish fails to parse): straight to the dead-letter queue.
      this.logger.error("amqp message is not JSON; dead-lettering it", { queue: sub.queue });
      ch.nack(message, false, false);
      return;
    }
    let settled = false;
    const settle = (requeue: boolean) => async () => {
      // After a cancel or a lost channel the broker has already taken the message back.
      if (settled || sub.cancelled || !channelOpen()) return;
      settled = true;
      try {
        if (requeue) ch.nack(message, false, true);
        else ch.ack(message);
      } catch {
        // The channel closed in between: the message will be redelivered, as promised.
      }
    };
    const delivery: Delivery<unknown> = {
      body,
      deliveryCount: deliveryCount(message),
      ack: settle(false),
      retry: settle(true),
    };
    void runHandler(sub.handler, delivery, this.logger);
  }

  /** Restarts a consumer on the current connection, retrying with backoff while that connection lasts. */
  private resume(sub: Subscriber, delayMs: number): void {
    const conn = this.conn;
    // Only consumers whose consume() succeeded are resumed; a failing first start just rejects.
    if (sub.cancelled || this.closed || !conn || !this.subscribers.has(sub)) return;
    const started = this.startConsumer(sub, conn);
    const attempt = sub.attempt;
    started.catch((error: unknown) => {
      if (sub.cancelled || this.closed || sub.attempt !== attempt || this.conn !== conn) return;
      const fields = { queue: sub.queue, error: messageOf(error), retryInMs: delayMs };
      this.logger.warn("amqp cannot resume consumer", fields);
      this.later(delayMs, () => this.resume(sub, Math.min(delayMs * 2, this.backoff.maxMs)));
    });
  }

  /** The broker cancels consumers of a deleted queue; there is nothing left to resume. */
  private consumerCancelledByBroker(sub: Subscriber, ch: Channel): void {
    if (!sub.cancelled) this.logger.warn("amqp queue deleted under its consumer", { queue: sub.queue });
    sub.cancelled = true;
    this.subscribers.delete(sub);
    closeQuietly(ch);
  }

  private async cancel(sub: Subscriber): Promise<void> {
    if (sub.cancelled) return;
    sub.cancelled = true;
    this.subscribers.delete(sub);
    const ch = sub.channel;
    sub.channel = undefined;
    // Closing the channel (not just basic.cancel) is what hands its unacked deliveries back.
    await ch?.close().catch(() => {});
  }
}

/** Opens a channel for one operation; a failed queue operation closes it, so it is never reused. */
async function withChannel<T>(conn: ChannelModel, op: (ch: Channel) => Promise<T>): Promise<T> {
  const ch = await conn.createChannel();
  // The failing operation's promise carries the error; the event would otherwise be unhandled.
  ch.on("error", () => {});
  try {
    return await op(ch);
  } finally {
    closeQuietly(ch);
  }
}

/** Closing a channel that is already closed rejects; that is fine here. */
function closeQuietly(ch: Channel): void {
  ch.close().catch(() => {});
}

/** Quorum queues put the number of earlier deliveries in x-delivery-count; absent on the first. */
function deliveryCount(message: ConsumeMessage): number {
  const earlier = message.properties.headers?.["x-delivery-count"];
  return typeof earlier === "number" ? earlier + 1 : 1;
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(not a URL)";
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Durable work queues with at-least-once delivery and bounded attempts.
 * Adapters: RabbitMQ through amqplib (AMQP_URL) and an in-process one (embedded default).
 * Both keep the same contract, checked by one test suite (test/queue/contract.ts).
 */

export interface Delivery<T = unknown> {
  body: T;
  /** 1 on the first delivery, 2 on the first redelivery, ... */
  deliveryCount: number;
  /** Done: the message is removed. A no-op when the delivery's channel is already gone. */
  ack(): Promise<void>;
  /**
   * Give it back for another attempt. When it has been delivered `maxAttempts` times
   * it goes to the dead-letter queue instead.
   */
  retry(): Promise<void>;
}

export interface DeclareOptions {
  /** Deliveries before the message is dead-lettered (default 3). */
  maxAttempts?: number;
  /**
   * A queue of this process alone, for hints whose loss costs only time (a gateway's notices): not
   * durable, and the broker deletes it with the connection that declared it, so a process that dies
   * leaves nothing behind. A reconnect declares it again, empty.
   */
  transient?: boolean;
}

export interface ConsumeOptions {
  /** Unacknowledged deliveries in flight to this consumer (default 16). */
  prefetch?: number;
}

export interface Subscription {
  /** Stops delivering; every unacknowledged delivery returns to the queue. */
  cancel(): Promise<void>;
}

export type Handler<T> = (delivery: Delivery<T>) => void | Promise<void>;

export interface QueuePort {
  /** Declares a durable work queue. Idempotent. */
  declare(queue: string, options?: DeclareOptions): Promise<void>;
  /** Resolves once the broker has the message safely (publisher confirm). */
  publish(queue: string, body: unknown): Promise<void>;
  /**
   * Delivers messages to `handler`. At most one consumer of a queue is active at a time, even
   * across processes; a second one waits and takes over when the first is cancelled or dies.
   * Consumers survive a lost broker connection: the adapter reconnects and resumes them.
   */
  consume<T>(queue: string, handler: Handler<T>, options?: ConsumeOptions): Promise<Subscription>;
  /** Where messages that used up their attempts end up; consume it like any queue. */
  readonly deadLetterQueue: string;
  /** Messages waiting (not counting unacknowledged ones). */
  depth(queue: string): Promise<number>;
  /** Removes a queue and its messages (a deleted host). */
  remove(queue: string): Promise<void>;
  close(): Promise<void>;
}

import type { Logger } from "../logger";
import { AmqpQueue } from "./amqp";
import { MemoryQueue } from "./memory";
import type { QueuePort } from "./port";

export type { ConsumeOptions, DeclareOptions, Delivery, Handler, QueuePort, Subscription } from "./port";

/** RabbitMQ when AMQP_URL is set (rejects if it is unreachable), else the in-process queue. */
export async function createQueue(
  config: { amqpUrl?: string; deadLetterQueue?: string },
  logger?: Pick<Logger, "info" | "warn" | "error">,
): Promise<QueuePort> {
  const { deadLetterQueue } = config;
  if (config.amqpUrl) return AmqpQueue.connect({ url: config.amqpUrl, deadLetterQueue, logger });
  return new MemoryQueue({ deadLetterQueue, logger });
}

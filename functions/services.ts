import type { Config } from "../shared/config";
import type { Database } from "../shared/db";
import type { KV } from "../shared/kv";
import type { Logger } from "../shared/logger";
import type { Mailer } from "../shared/mail/port";
import type { QueuePort } from "../shared/queue/port";

/** Everything a function needs from outside; built once per process (Node) or per request (edge). */
export interface Services {
  config: Config;
  db: Database;
  kv: KV;
  mailer: Mailer;
  logger: Logger;
  /** Job queues; only the Node deployment has them (the edge serves sign-up alone). */
  queue?: QueuePort;
  /** Liveness of the database, for /readyz. */
  pingDatabase(): Promise<void>;
}

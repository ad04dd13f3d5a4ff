import type { Config } from "../shared/config";
import type { SecretBox } from "../shared/crypto/secret-box";
import type { Database } from "../shared/db";
import type { KV } from "../shared/kv";
import type { Logger } from "../shared/logger";
import type { Mailer } from "../shared/mail/port";
import type { QueuePort } from "../shared/queue/port";
import type { HashGate } from "./auth/hash-gate";
import type { Metrics } from "./metrics/registry";
import type { PgCluster } from "./pg/cluster";

/** Everything a function needs from outside; built once per process (Node) or per request (edge). */
export interface Services {
  config: Config;
  db: Database;
  kv: KV;
  mailer: Mailer;
  logger: Logger;
  /** Job queues; only the Node deployment has them (the edge serves sign-up alone). */
  queue?: QueuePort;
  /** The managed-PostgreSQL service cluster (admin connection); absent when PG_SERVICE_URL is not set. */
  pgCluster?: PgCluster;
  /** Encrypts secrets people must see again (KWS_SECRET_KEY); the Node deployment has it. */
  secretBox?: SecretBox;
  /** Password checks one client may run at once in this process; absent (the edge): no gate. */
  hashGate?: HashGate;
  /** The process's Prometheus metrics (GET /metrics); the edge records none. */
  metrics?: Metrics;
  /** Liveness of the database, for /readyz. */
  pingDatabase(): Promise<void>;
}

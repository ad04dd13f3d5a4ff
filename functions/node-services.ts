import { join } from "node:path";
import type { Config } from "../shared/config";
import type { DatabaseHandle } from "../shared/db";
import { migrateDatabase } from "../shared/db/migrate";
import { openPglite } from "../shared/db/pglite";
import { connectPostgres } from "../shared/db/postgres";
import { createKV, kvKind, type KV } from "../shared/kv";
import type { Logger } from "../shared/logger";
import { LogMailer } from "../shared/mail/log";
import type { Mailer } from "../shared/mail/port";
import { SmtpMailer } from "../shared/mail/smtp";
import { redriveOpenJobs } from "../shared/jobs/redrive";
import { createQueue } from "../shared/queue";
import type { QueuePort } from "../shared/queue/port";
import type { Services } from "./services";

export interface NodeServices extends Services {
  queue: QueuePort;
  close(): Promise<void>;
}

export interface NodeServiceOverrides {
  database?: DatabaseHandle;
  kv?: KV;
  mailer?: Mailer;
  queue?: QueuePort;
}

/** Opens every port from the configuration (or takes the given ones) and migrates the database. */
export async function createNodeServices(
  config: Config,
  logger: Logger,
  overrides: NodeServiceOverrides = {},
): Promise<NodeServices> {
  const database =
    overrides.database ??
    (config.databaseUrl ? connectPostgres(config.databaseUrl) : await openPglite(join(config.dataDir, "pglite")));
  await migrateDatabase(database);
  const kv = overrides.kv ?? createKV(config);
  const mailer: Mailer =
    overrides.mailer ?? (config.smtpUrl ? new SmtpMailer(config.smtpUrl, config.mailFrom) : new LogMailer(logger));
  const queue = overrides.queue ?? (await createQueue(config, logger));
  if (!config.amqpUrl && !overrides.queue) {
    // The in-process queue starts empty: open jobs of a previous run get their message again.
    await redriveOpenJobs(database.db, queue, logger);
  }
  logger.info("services ready", {
    database: database.kind,
    kv: kvKind(config),
    mail: config.smtpUrl ? "smtp" : "log",
    queue: config.amqpUrl ? "amqp" : "memory",
  });
  return {
    config,
    db: database.db,
    kv,
    mailer,
    queue,
    logger,
    pingDatabase: () => database.ping(),
    close: async () => {
      await queue.close();
      await mailer.close?.();
      await kv.close?.();
      await database.close();
    },
  };
}

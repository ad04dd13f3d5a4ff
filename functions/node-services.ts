import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../shared/config";
import { createSecretBox, decodeSecretKey, randomSecretKey, type SecretBox } from "../shared/crypto/secret-box";
import type { DatabaseHandle } from "../shared/db";
import { migrateDatabase } from "../shared/db/migrate";
import { openPglite } from "../shared/db/pglite";
import { connectPostgres } from "../shared/db/postgres";
import { createKV, kvKind, type KV } from "../shared/kv";
import type { Logger } from "../shared/logger";
import { LogMailer } from "../shared/mail/log";
import type { Mailer } from "../shared/mail/port";
import { SmtpMailer } from "../shared/mail/smtp";
import { jobOutcomes } from "./core/jobs/outcomes";
import { publishJob } from "./core/jobs/submit";
import { createQueue } from "../shared/queue";
import type { QueuePort } from "../shared/queue/port";
import { HashGate } from "./auth/hash-gate";
import { registerJobOutcomes } from "./job-outcomes";
import { Metrics } from "./metrics/registry";
import { databaseSources } from "./metrics/sources";
import { PgCluster } from "./pg/cluster";
import type { Services } from "./services";

export interface NodeServices extends Services {
  queue: QueuePort;
  metrics: Metrics;
  /** NOTIFY of a channel of the database (see DatabaseHandle.listen). */
  listen: DatabaseHandle["listen"];
  close(): Promise<void>;
}

export interface NodeServiceOverrides {
  database?: DatabaseHandle;
  kv?: KV;
  mailer?: Mailer;
  queue?: QueuePort;
  pgCluster?: PgCluster;
  secretBox?: SecretBox;
  metrics?: Metrics;
}

/**
 * The key of the secret box: KWS_SECRET_KEY, or in production nothing (refused at start). Elsewhere
 * (the embedded setup) a random key made once and kept in $KWS_DATA_DIR/secret.key (0600), read at
 * first use so processes that never decrypt anything leave no file behind. Nothing is derived from
 * other settings: a lost or changed key makes stored secrets unreadable, never guessable.
 */
export function nodeSecretBox(config: Config, logger: Logger): SecretBox {
  if (config.secretKey) return createSecretBox(decodeSecretKey(config.secretKey));
  if (config.env === "production") {
    throw new Error(
      "KWS_SECRET_KEY is required when NODE_ENV=production: 32 random bytes in base64 (`openssl rand -base64 32`); keep it with your backups, stored passwords cannot be read without it",
    );
  }
  const path = join(config.dataDir, "secret.key");
  return createSecretBox(async () => {
    try {
      const text = await readFile(path, "utf8");
      if (((await stat(path)).mode & 0o077) !== 0) {
        await chmod(path, 0o600);
        logger.warn("secret key file was readable by others; made it 0600", { path });
      }
      return decodeSecretKey(text);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    await mkdir(config.dataDir, { recursive: true });
    try {
      // wx: if another process made it first, use theirs.
      await writeFile(path, `${randomSecretKey()}\n`, { mode: 0o600, flag: "wx" });
      logger.warn("KWS_SECRET_KEY is not set: generated a random key for this embedded setup", {
        path,
        hint: "set KWS_SECRET_KEY (openssl rand -base64 32) for production; losing this file makes stored passwords unreadable",
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    return decodeSecretKey(await readFile(path, "utf8"));
  });
}

/**
 * Opens every port from the configuration (or takes the given ones) and migrates the database.
 * Every Node process that records job outcomes (control plane, gateway) is composed here, so the
 * capabilities' outcome handlers are registered here too.
 */
export async function createNodeServices(
  config: Config,
  logger: Logger,
  overrides: NodeServiceOverrides = {},
): Promise<NodeServices> {
  registerJobOutcomes(config);
  // First: a production start without KWS_SECRET_KEY stops here, before anything is opened.
  const secretBox = overrides.secretBox ?? nodeSecretBox(config, logger);
  const database =
    overrides.database ??
    (config.databaseUrl ? connectPostgres(config.databaseUrl) : await openPglite(join(config.dataDir, "pglite")));
  await migrateDatabase(database);
  const kv = overrides.kv ?? createKV(config);
  const mailer: Mailer =
    overrides.mailer ?? (config.smtpUrl ? new SmtpMailer(config.smtpUrl, config.mailFrom) : new LogMailer(logger));
  const queue = overrides.queue ?? (await createQueue(config, logger));
  // Jobs that an outcome starts (a deploy hook's next run) go to this queue.
  jobOutcomes.publishThrough(database.db, (job) => publishJob(database.db, queue, logger, job));
  // The driver connects at the first query, so an unreachable cluster does not stop the start.
  const pgCluster = overrides.pgCluster ?? (config.pgService ? new PgCluster(config.pgService.url) : undefined);
  // Locks managed roles out of the maintenance databases now, roles made before KWS did so too.
  pgCluster?.configure().catch((err: unknown) => logger.warn("cannot configure the managed-PostgreSQL cluster yet; retried before the next role is made", { err }));
  const metrics = overrides.metrics ?? new Metrics();
  metrics.watch(databaseSources(database.db, config.heartbeatMs));
  logger.info("services ready", {
    database: database.kind,
    kv: kvKind(config),
    mail: config.smtpUrl ? "smtp" : "log",
    queue: config.amqpUrl ? "amqp" : "memory",
    pgService: config.pgService ? `${config.pgService.publicHost}:${config.pgService.publicPort}` : "off",
  });
  return {
    config,
    db: database.db,
    kv,
    mailer,
    queue,
    logger,
    pgCluster,
    secretBox,
    hashGate: new HashGate(),
    metrics,
    pingDatabase: () => database.ping(),
    listen: (channel, onNotify) => database.listen(channel, onNotify),
    close: async () => {
      await queue.close();
      await pgCluster?.close();
      await mailer.close?.();
      await kv.close?.();
      await database.close();
    },
  };
}

import { z } from "zod";
import { DEFAULT_BRIDGE_RANGE, parseRange } from "./addresses/pool";
import type { RateLimitRule } from "./kv/port";
import { parseCidr, type CidrRange } from "./net/ip";

const optionalUrl = (what: string) =>
  z
    .string()
    .trim()
    .transform((v) => (v === "" ? undefined : v))
    .pipe(z.url({ message: `must be a URL (${what})` }).optional())
    .optional();

const intInRange = (min: number, max: number, fallback: number) =>
  z.coerce
    .number({ message: "must be a whole number" })
    .int("must be a whole number")
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(fallback);

const ipAddress = z.union([z.ipv4(), z.ipv6()]);

/** Minutes (fractions allowed, up to a year) or "never": null. */
const idleMinutes = z
  .string()
  .trim()
  .transform((v, ctx) => {
    if (v === "never") return null;
    const minutes = Number(v);
    if (v === "" || !Number.isFinite(minutes) || minutes <= 0 || minutes > 525_600) {
      ctx.addIssue({ code: "custom", message: 'must be a number of minutes above 0 (e.g. 60 or 0.5), or "never"' });
      return z.NEVER;
    }
    return minutes;
  });

/** Every variable KWS reads. Nothing else in the codebase reads the environment. */
export const configSchema = z
  .object({
    // development | production | test; production turns on Secure cookies.
    NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
    // TCP port of the HTTP server.
    PORT: intInRange(1, 65535, 8080),
    // Base URL people reach KWS at; links in e-mails point here.
    PUBLIC_URL: optionalUrl("e.g. https://kws.example.org"),
    // Base of app hosts: the IDE and published apps answer at <label>.<its host>.
    KWS_APPS_URL: optionalUrl("e.g. https://kws.app"),
    // Shared secret that lets Caddy's on-demand TLS `ask` reach /api/v1/ingress/ask from off this machine.
    KWS_INGRESS_ASK_SECRET: z
      .string()
      .trim()
      .optional()
      .transform((v) => v || undefined),
    // Bearer token that GET /metrics asks for; unset: /metrics answers loopback callers only.
    KWS_METRICS_TOKEN: z
      .string()
      .trim()
      .optional()
      .transform((v) => v || undefined),
    // PostgreSQL connection string; unset: embedded PGlite under KWS_DATA_DIR.
    DATABASE_URL: optionalUrl("e.g. postgres://user:pass@host:5432/kws"),
    // Where embedded state (PGlite) lives.
    KWS_DATA_DIR: z.string().min(1).default("./.kws"),
    // Redis over TCP (Node deployments), e.g. redis://:password@redis:6379; wins over Upstash.
    REDIS_URL: optionalUrl("e.g. redis://:password@redis:6379"),
    // Upstash-compatible Redis REST endpoint and token (the edge needs these); unset: in-memory KV.
    UPSTASH_REDIS_REST_URL: optionalUrl("the Upstash REST URL"),
    UPSTASH_REDIS_REST_TOKEN: z.string().optional(),
    // SMTP server for outgoing mail (smtp://user:pass@host:587); unset: mails go to the log.
    SMTP_URL: optionalUrl("e.g. smtp://user:pass@mail.example.org:587"),
    // Sender of outgoing mail.
    MAIL_FROM: z.string().min(3).default("KWS <no-reply@kws.localhost>"),
    // RabbitMQ connection string; unset: in-process queue.
    AMQP_URL: optionalUrl("e.g. amqp://guest:guest@127.0.0.1:5672"),
    // Where jobs that used up their delivery attempts go (one per deployment sharing a broker).
    KWS_DEAD_LETTER_QUEUE: z.string().regex(/^[a-zA-Z0-9._-]{1,200}$/, "must be a queue name").default("kws.dead"),
    // Comma-separated e-mail addresses of administrators.
    KWS_ADMINS: z
      .string()
      .default("")
      .transform((v) =>
        v
          .split(",")
          .map((s) => s.trim().toLowerCase())
          .filter(Boolean),
      ),
    // Which X-Forwarded-For entries to believe: "false" (none), a number of proxy hops in front of KWS
    // ("true" = 1), or a comma-separated list of the proxies' addresses or CIDR ranges (IPv4 and IPv6).
    TRUST_PROXY: z
      .string()
      .trim()
      .default("false")
      .transform((v, ctx) => {
        const trust = parseTrustProxy(v);
        if (trust === undefined) {
          ctx.addIssue({ code: "custom", message: 'must be "true", "false", a number of hops (0-10) or proxy addresses/CIDR ranges, e.g. 10.0.0.0/8,fd00::/8' });
          return z.NEVER;
        }
        return trust;
      }),
    // PBKDF2 iterations for new password hashes (never below 600000).
    PASSWORD_ITERATIONS: intInRange(600_000, 10_000_000, 600_000),
    // How long a job may wait for its host before it fails (seconds).
    JOB_DEADLINE_SECONDS: intInRange(10, 7 * 24 * 3600, 600),
    // Gateway → agent websocket ping interval; a host is offline after two missed pongs.
    GATEWAY_HEARTBEAT_MS: intInRange(100, 60_000, 15_000),
    // Admin connection to the PostgreSQL cluster that holds people's managed databases
    // (a superuser, e.g. postgres://kws_admin:secret@pg.example.org:5432/postgres); unset: managed PostgreSQL is off.
    PG_SERVICE_URL: z
      .string()
      .trim()
      .transform((v) => (v === "" ? undefined : v))
      .pipe(
        z
          .url({ protocol: /^postgres(ql)?$/, message: "must be a postgres:// URL (e.g. postgres://kws_admin:secret@pg.example.org:5432/postgres)" })
          .optional(),
      )
      .optional(),
    // Host name people are told to connect to; default: PG_SERVICE_URL's host.
    PG_SERVICE_PUBLIC_HOST: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9.:[\]-]*$/, "must be a host name or an IP address")
      .optional(),
    // Port people are told to connect to; default: PG_SERVICE_URL's port (5432).
    PG_SERVICE_PUBLIC_PORT: z.coerce
      .number({ message: "must be a whole number" })
      .int("must be a whole number")
      .min(1, "must be at least 1")
      .max(65535, "must be at most 65535")
      .optional(),
    // 32 random bytes, base64 (`openssl rand -base64 32`): encrypts secrets people must see again.
    // Required by the Node control plane in production; otherwise a key is kept in $KWS_DATA_DIR/secret.key.
    KWS_SECRET_KEY: z
      .string()
      .trim()
      .transform((v) => (v === "" ? undefined : v))
      .pipe(
        z
          .string()
          .refine(isSecretKey, "must be 32 bytes in base64 (make one with `openssl rand -base64 32`)")
          .optional(),
      )
      .optional(),
    // LXD image alias instances are made from (production: an Ubuntu 22.04 image; tests: kws/debian-12,
    // built by `scripts/host-setup.sh --instance-image`).
    KWS_INSTANCE_IMAGE: z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9._/:-]{0,199}$/, "must be an LXD image alias").default("kws/debian-12"),
    // Memory limit of each instance, in MB (LXD limits.memory).
    KWS_INSTANCE_MEMORY_MB: intInRange(64, 1_048_576, 1500),
    // CPU limit of each instance (LXD limits.cpu: how many CPUs it may use).
    KWS_INSTANCE_CPUS: intInRange(1, 1024, 2),
    // Root disk size of each instance in GiB (the root disk's size on the kws-btrfs pool; a dir pool ignores it).
    KWS_INSTANCE_DISK_GB: intInRange(1, 65_536, 10),
    // Process limit of each instance (LXD limits.processes): a fork bomb stops there.
    KWS_INSTANCE_PROCESSES: intInRange(100, 4_194_304, 2000),
    // "false": instances are bare containers (created, started, addressed), without the user, SSH and
    // code-server steps; for images that have none of them (the kws/busybox test image).
    KWS_INSTANCE_PROVISION: z
      .enum(["true", "false"])
      .default("true")
      .transform((v) => v === "true"),
    // The resolver written into device configs (DNS = ...): it is reached outside the tunnel.
    KWS_DEVICE_DNS: z.ipv4({ message: "must be an IPv4 address" }).default("1.1.1.1"),
    // Memory each host keeps for itself: instances are placed only while their limits sum below the rest (MB).
    KWS_HOST_MEMORY_RESERVE_MB: intInRange(0, 1_048_576, 1024),
    // Static addresses instances get on each host's bridge (FIRST-LAST, outside the bridge's DHCP range).
    KWS_BRIDGE_RANGE: z
      .string()
      .trim()
      .default(DEFAULT_BRIDGE_RANGE)
      .transform((v, ctx) => {
        try {
          return parseRange(v);
        } catch {
          ctx.addIssue({ code: "custom", message: "must be an IPv4 range FIRST-LAST, e.g. 172.30.0.11-172.30.0.254" });
          return z.NEVER;
        }
      }),
    // npm start's own agent for this machine's LXD: auto (when an LXD socket answers), on, off.
    KWS_LOCAL_AGENT: z.enum(["auto", "on", "off"]).default("auto"),
    // Whether that agent runs the host's WireGuard interface (wg0, 10.8.0.1/24, needs root).
    KWS_LOCAL_WIREGUARD: z
      .enum(["on", "off"])
      .default("on")
      .transform((v) => v === "on"),
    // The resolvers custom domains are checked with (ip[:port],...; IPv6 as [ip]:port); empty: the system's.
    KWS_DNS_SERVERS: z
      .string()
      .trim()
      .default("")
      .transform((v, ctx) => {
        const servers = v.split(",").map((s) => s.trim()).filter(Boolean);
        const bad = servers.find((s) => !ipAddress.safeParse(s.replace(/^\[(.*)\](?::\d{1,5})?$/, "$1").replace(/^([^:]+):\d{1,5}$/, "$1")).success);
        if (bad) {
          ctx.addIssue({ code: "custom", message: `must be ip[:port],... (${bad} is not)` });
          return z.NEVER;
        }
        return servers.length ? servers : undefined;
      }),
    // Minutes without activity after which a running instance is stopped, or "never".
    KWS_IDLE_STOP_MINUTES: idleMinutes.default(60),
    // The longest idle time a person may choose for their instance, or "never" (they may turn idle stop
    // off); default: KWS_IDLE_STOP_MINUTES. Shorter times are always allowed.
    KWS_IDLE_STOP_MAX_MINUTES: idleMinutes.optional(),
    // "true": webhooks may go to loopback, private and link-local addresses (self-hosted networks, tests).
    KWS_WEBHOOK_ALLOW_PRIVATE: z
      .enum(["true", "false"])
      .default("false")
      .transform((v) => v === "true"),
    // How long one webhook attempt may take, connection to last byte (ms).
    KWS_WEBHOOK_TIMEOUT_MS: intInRange(100, 60_000, 15_000),
    // Multiplies the webhook retry schedule (5 s, 5 min, ... 10 h) and the 5 days before a failing
    // endpoint is disabled: 1 in production; tests shorten it.
    KWS_WEBHOOK_RETRY_SCALE: z.coerce.number({ message: "must be a number" }).positive("must be above 0").max(1, "must be at most 1").default(1),
    // Per-person quotas (defaults; an administrator may change them per person). The instance's
    // memory, CPUs and disk quotas default to KWS_INSTANCE_MEMORY_MB, KWS_INSTANCE_CPUS, KWS_INSTANCE_DISK_GB.
    KWS_QUOTA_DEVICES: intInRange(0, 1000, 3),
    KWS_QUOTA_PG_USERS: intInRange(0, 1000, 5),
    KWS_QUOTA_PG_DATABASES: intInRange(0, 1000, 10),
    KWS_QUOTA_APPS: intInRange(0, 1000, 10),
    KWS_QUOTA_DOMAINS: intInRange(0, 1000, 3),
    KWS_QUOTA_WEBHOOKS: intInRange(0, 1000, 5),
    // debug | info | warn | error
    LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  })
  .superRefine((env, ctx) => {
    const url = env.UPSTASH_REDIS_REST_URL !== undefined;
    const token = env.UPSTASH_REDIS_REST_TOKEN !== undefined && env.UPSTASH_REDIS_REST_TOKEN !== "";
    if (url !== token) {
      ctx.addIssue({
        code: "custom",
        path: [url ? "UPSTASH_REDIS_REST_TOKEN" : "UPSTASH_REDIS_REST_URL"],
        message: "UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must be set together",
      });
    }
    const [idle, max] = [env.KWS_IDLE_STOP_MINUTES, env.KWS_IDLE_STOP_MAX_MINUTES];
    if (max !== undefined && max !== null && (idle === null || idle > max)) {
      ctx.addIssue({ code: "custom", path: ["KWS_IDLE_STOP_MAX_MINUTES"], message: "must not be below KWS_IDLE_STOP_MINUTES (use never when that is never)" });
    }
  })
  // The configuration as the code reads it; its type (Config) is inferred from here.
  .transform((e) => ({
    env: e.NODE_ENV,
    port: e.PORT,
    publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ""),
    /** Base of app hosts, e.g. http://localhost:8080 → http://<label>.localhost:8080/. */
    appsUrl: new URL(e.KWS_APPS_URL ?? `http://localhost:${e.PORT}`).origin,
    /** Lets the ingress ask endpoint answer callers that are not on loopback. */
    ingressAskSecret: e.KWS_INGRESS_ASK_SECRET,
    /** What a scraper of /metrics must send as its bearer token; undefined: loopback callers only. */
    metricsToken: e.KWS_METRICS_TOKEN,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.KWS_DATA_DIR,
    redisUrl: e.REDIS_URL,
    upstash:
      e.UPSTASH_REDIS_REST_URL && e.UPSTASH_REDIS_REST_TOKEN
        ? { url: e.UPSTASH_REDIS_REST_URL, token: e.UPSTASH_REDIS_REST_TOKEN }
        : undefined,
    smtpUrl: e.SMTP_URL,
    mailFrom: e.MAIL_FROM,
    amqpUrl: e.AMQP_URL,
    deadLetterQueue: e.KWS_DEAD_LETTER_QUEUE,
    admins: e.KWS_ADMINS,
    trustProxy: e.TRUST_PROXY,
    passwordIterations: e.PASSWORD_ITERATIONS,
    logLevel: e.LOG_LEVEL,
    rateLimits: defaultRateLimits,
    jobDeadlineSeconds: e.JOB_DEADLINE_SECONDS,
    heartbeatMs: e.GATEWAY_HEARTBEAT_MS,
    /** Managed PostgreSQL; undefined when PG_SERVICE_URL is not set. */
    pgService: pgServiceConfig(e.PG_SERVICE_URL, e.PG_SERVICE_PUBLIC_HOST, e.PG_SERVICE_PUBLIC_PORT),
    /** KWS_SECRET_KEY (base64 of 32 bytes), when set. */
    secretKey: e.KWS_SECRET_KEY,
    /** What every new instance gets, and how much of a host placement may use. */
    instances: {
      image: e.KWS_INSTANCE_IMAGE,
      processes: e.KWS_INSTANCE_PROCESSES,
      hostReserveMB: e.KWS_HOST_MEMORY_RESERVE_MB,
      bridgeRange: e.KWS_BRIDGE_RANGE,
      provision: e.KWS_INSTANCE_PROVISION,
    },
    /** Each person's limits unless an administrator set others (functions/quotas/). */
    quotas: {
      instanceMemoryMB: e.KWS_INSTANCE_MEMORY_MB,
      instanceCpus: e.KWS_INSTANCE_CPUS,
      instanceDiskGB: e.KWS_INSTANCE_DISK_GB,
      devices: e.KWS_QUOTA_DEVICES,
      pgUsers: e.KWS_QUOTA_PG_USERS,
      pgDatabases: e.KWS_QUOTA_PG_DATABASES,
      apps: e.KWS_QUOTA_APPS,
      domains: e.KWS_QUOTA_DOMAINS,
      webhooks: e.KWS_QUOTA_WEBHOOKS,
    },
    deviceDns: e.KWS_DEVICE_DNS,
    /** Resolvers for custom-domain checks (node:dns setServers form); undefined: the system's. */
    dnsServers: e.KWS_DNS_SERVERS,
    localAgent: { mode: e.KWS_LOCAL_AGENT, wireguard: e.KWS_LOCAL_WIREGUARD },
    /** Idle auto-stop: the default and the longest a person may choose, in minutes; null: never. */
    idleStop: {
      defaultMinutes: e.KWS_IDLE_STOP_MINUTES,
      maxMinutes: e.KWS_IDLE_STOP_MAX_MINUTES === undefined ? e.KWS_IDLE_STOP_MINUTES : e.KWS_IDLE_STOP_MAX_MINUTES,
    },
    webhooks: { allowPrivate: e.KWS_WEBHOOK_ALLOW_PRIVATE, timeoutMs: e.KWS_WEBHOOK_TIMEOUT_MS, retryScale: e.KWS_WEBHOOK_RETRY_SCALE },
  }));

export type Config = z.output<typeof configSchema>;
export type PgServiceConfig = NonNullable<Config["pgService"]>;

/** The managed-PostgreSQL service cluster: where KWS connects as admin, and what people are told. */
function pgServiceConfig(url: string | undefined, host: string | undefined, port: number | undefined) {
  if (!url) return undefined;
  const parsed = new URL(url);
  return {
    url,
    publicHost: host || parsed.hostname || "localhost",
    publicPort: port ?? (parsed.port ? Number(parsed.port) : 5432),
  };
}

/**
 * Which proxies' X-Forwarded-For entries are believed: the last `hops` entries (each added by one
 * proxy in front of KWS), or those added by proxies whose address is in `ranges`.
 */
export type TrustProxy = { hops: number } | { ranges: CidrRange[] };

function parseTrustProxy(text: string): TrustProxy | undefined {
  if (text === "false" || text === "") return { hops: 0 };
  if (text === "true") return { hops: 1 };
  if (/^\d{1,2}$/.test(text)) return Number(text) <= 10 ? { hops: Number(text) } : undefined;
  const ranges = text.split(",").map((part) => parseCidr(part));
  return ranges.every((r) => r !== undefined) ? { ranges: ranges as CidrRange[] } : undefined;
}

/** Whether `text` is standard or URL-safe base64 of exactly 32 bytes. */
export function isSecretKey(text: string): boolean {
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) return false;
  try {
    return atob(text.replace(/-/g, "+").replace(/_/g, "/").replace(/=$/, "") + "=").length === 32;
  } catch {
    return false;
  }
}

export type ConfigInput = Record<string, string | undefined>;

export interface RateLimits {
  /** Per client address and username: 5 attempts in a burst, then one per 10 s. */
  login: RateLimitRule;
  /**
   * Failed logins per client address (an IPv6 /64), whatever the name: 10 at once, then one per 45 s,
   * so at most 30 in any 15 minutes (a burst of 30 would allow 59: the burst plus its refill).
   */
  loginAddress: RateLimitRule;
  /** Failed logins per account, from any address: 6 at once, then one per 3 min (at most 10 in any 15 minutes). */
  loginAccount: RateLimitRule;
  /** Per client address. */
  register: RateLimitRule;
  /** Per client address and per e-mail address. */
  resend: RateLimitRule;
  /** Per client address: agent enrollment attempts. */
  enroll: RateLimitRule;
}

export const defaultRateLimits: RateLimits = {
  login: { burst: 5, intervalMs: 10_000 },
  loginAddress: { burst: 10, intervalMs: 45_000 },
  loginAccount: { burst: 6, intervalMs: 180_000 },
  register: { burst: 10, intervalMs: 60_000 },
  resend: { burst: 3, intervalMs: 60_000 },
  enroll: { burst: 10, intervalMs: 60_000 },
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`KWS configuration is invalid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Pure: the Node entry passes process.env, the Worker its bindings. */
export function parseConfig(input: ConfigInput): Config {
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join(".") || "environment"}: ${i.message}`),
    );
  }
  return parsed.data;
}

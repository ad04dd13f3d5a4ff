import { sql } from "drizzle-orm";
import { type AnyPgColumn, bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";

const timestamps = {
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
};

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    // Stored lower-cased by the application; unique as stored.
    email: text("email").notNull(),
    // Kept as typed; uniqueness is case-insensitive through the index on lower(username).
    username: text("username").notNull(),
    passwordHash: text("password_hash").notNull(),
    firstName: text("first_name").notNull(),
    lastName: text("last_name").notNull(),
    verifiedAt: timestamp("verified_at", { withTimezone: true }),
    // The host that holds this person's instance and devices, chosen at their first placement and
    // kept afterwards (a kill does not move them).
    homeHostId: uuid("home_host_id").references((): AnyPgColumn => hosts.id, { onDelete: "set null" }),
    // Every session carries the number it was made under; raising it ends all of them at once
    // (functions/auth/sessions.ts). It lives here because every session's request reads this row anyway.
    sessionGeneration: integer("session_generation").notNull().default(0),
    // Set by an administrator: no sign-in, no session, no API token counts until it is cleared.
    suspendedAt: timestamp("suspended_at", { withTimezone: true }),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("users_email_key").on(t.email),
    uniqueIndex("users_username_lower_key").on(sql`lower(${t.username})`),
  ],
);

export const apiTokenScopes = ["full", "read"] as const;
export type ApiTokenScope = (typeof apiTokenScopes)[number];

export const apiTokens = pgTable(
  "api_tokens",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    // SHA-256 of the whole secret; the secret itself is shown once and never stored.
    tokenHash: text("token_hash").notNull(),
    // The first characters of the secret, so a person can tell their tokens apart.
    prefix: text("prefix").notNull(),
    // "read": GET and HEAD only; "full": whatever its owner may do except make more tokens.
    scope: text("scope", { enum: apiTokenScopes }).notNull().default("full"),
    expiresAt: timestamp("expires_at", { withTimezone: true }),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("api_tokens_hash_key").on(t.tokenHash), index("api_tokens_user_idx").on(t.userId)],
);

export type User = typeof users.$inferSelect;
export type ApiToken = typeof apiTokens.$inferSelect;

export const hosts = pgTable(
  "hosts",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    publicAddress: text("public_address"),
    draining: boolean("draining").notNull().default(false),
    // One-time enrollment token (hash) and its expiry; cleared once used.
    enrollmentTokenHash: text("enrollment_token_hash"),
    enrollmentExpiresAt: timestamp("enrollment_expires_at", { withTimezone: true }),
    // The agent's long-lived credential, hashed; set by enrollment.
    credentialHash: text("credential_hash"),
    enrolledAt: timestamp("enrolled_at", { withTimezone: true }),
    // Which gateway connection holds the host now; null while offline.
    connectionId: text("connection_id"),
    // The gateway process that connection belongs to: where notices of this host's new jobs go.
    gatewayId: text("gateway_id"),
    connectedAt: timestamp("connected_at", { withTimezone: true }),
    disconnectedAt: timestamp("disconnected_at", { withTimezone: true }),
    lastHeartbeatAt: timestamp("last_heartbeat_at", { withTimezone: true }),
    agentVersion: text("agent_version"),
    lxdVersion: text("lxd_version"),
    // Why the agent cannot do LXD work (e.g. no LXD socket); null when healthy.
    degradedReason: text("degraded_reason"),
    facts: jsonb("facts").$type<HostFacts>(),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("hosts_name_key").on(t.name),
    uniqueIndex("hosts_enrollment_token_key").on(t.enrollmentTokenHash),
    uniqueIndex("hosts_credential_key").on(t.credentialHash),
  ],
);

export interface HostFacts {
  cpus: number;
  memoryBytes: number;
  diskFreeBytes: number;
  runningInstances: number;
  instances: number;
  /** The host's WireGuard interface, when the agent runs one. */
  wireguard?: {
    interface: string;
    publicKey: string;
    listenPort: number;
    /** The interface's own address with the subnet's prefix, e.g. 10.8.0.1/24. */
    address: string;
    endpoint: string | null;
  };
}

export const jobStatuses = ["queued", "running", "succeeded", "failed"] as const;
export type JobStatus = (typeof jobStatuses)[number];

export interface JobStep {
  step: string;
  message: string;
  at: string;
}

export interface JobError {
  code: string;
  message: string;
}

export const jobs = pgTable(
  "jobs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    hostId: uuid("host_id")
      .notNull()
      .references(() => hosts.id, { onDelete: "cascade" }),
    // Who asked; null for jobs the system or an operator submits without a user.
    userId: uuid("user_id").references(() => users.id, { onDelete: "set null" }),
    kind: text("kind").notNull(),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    status: text("status").$type<JobStatus>().notNull().default("queued"),
    // Deliveries so far; the job is dead-lettered (failed) instead of a fourth one.
    attempts: integer("attempts").notNull().default(0),
    // The agent connection the job was last sent to: a newer connection of the host sends it again.
    connectionId: text("connection_id"),
    steps: jsonb("steps").$type<JobStep[]>().notNull().default([]),
    result: jsonb("result").$type<unknown>(),
    error: jsonb("error").$type<JobError>(),
    deadline: timestamp("deadline", { withTimezone: true }).notNull(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
    ...timestamps,
  },
  (t) => [
    index("jobs_host_status_idx").on(t.hostId, t.status),
    index("jobs_user_idx").on(t.userId),
    index("jobs_open_deadline_idx").on(t.deadline).where(sql`status in ('queued', 'running')`),
    index("jobs_running_connection_idx").on(t.connectionId).where(sql`status = 'running'`),
  ],
);

export type Host = typeof hosts.$inferSelect;
export type Job = typeof jobs.$inferSelect;

/** A database user (role) on the managed-PostgreSQL cluster, created by a person. */
export const pgUsers = pgTable(
  "pg_users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    // The role's name on the cluster; unique there, so unique here.
    name: text("name").notNull(),
    // AES-256-GCM under KWS_SECRET_KEY (shared/crypto/secret-box.ts), bound to the name.
    passwordEncrypted: text("password_encrypted").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("pg_users_name_key").on(t.name), index("pg_users_user_idx").on(t.userId)],
);

/** A database on the managed-PostgreSQL cluster, owned by one of its person's pg users. */
export const pgDatabases = pgTable(
  "pg_databases",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    pgUserId: uuid("pg_user_id")
      .notNull()
      .references(() => pgUsers.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("pg_databases_name_key").on(t.name),
    index("pg_databases_user_idx").on(t.userId),
    index("pg_databases_pg_user_idx").on(t.pgUserId),
  ],
);

export type PgUserRow = typeof pgUsers.$inferSelect;
export type PgDatabaseRow = typeof pgDatabases.$inferSelect;

/** The pools an address can come from: a host's bridge (instances) or its WireGuard subnet (devices). */
export const addressPools = ["bridge", "wireguard"] as const;
export type AddressPool = (typeof addressPools)[number];

/**
 * One IPv4 address of a host's pool, held by one thing ("instance:<id>", "device:<id>").
 * Allocation (functions/core/addresses/store.ts) inserts the lowest free number; the unique index on
 * (host_id, pool, address_num) is what makes two concurrent allocations unable to take the same one.
 *
 * The address is kept as a number because "lowest free" is integer arithmetic (a gap search over
 * address_num + 1) and comparing or ordering numbers is exact; bigint because int4 is signed and
 * cannot hold addresses above 127.255.255.255. The dotted text beside it is for people and logs.
 */
export const addressLeases = pgTable(
  "address_leases",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    hostId: uuid("host_id")
      .notNull()
      .references(() => hosts.id, { onDelete: "cascade" }),
    pool: text("pool").$type<AddressPool>().notNull(),
    addressNum: bigint("address_num", { mode: "number" }).notNull(),
    address: text("address").notNull(),
    holder: text("holder").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("address_leases_host_pool_address_key").on(t.hostId, t.pool, t.addressNum),
    // One address per holder and pool.
    uniqueIndex("address_leases_pool_holder_key").on(t.pool, t.holder),
  ],
);

export type AddressLease = typeof addressLeases.$inferSelect;

/** The columns of a person's resource that lives on one host and goes with the person or the host. */
const hostedResource = () => ({
  id: uuid("id").primaryKey().defaultRandom(),
  userId: uuid("user_id")
    .notNull()
    .references(() => users.id, { onDelete: "cascade" }),
  hostId: uuid("host_id")
    .notNull()
    .references(() => hosts.id, { onDelete: "cascade" }),
});

export const instanceStates = ["provisioning", "running", "stopped", "failed"] as const;
export type InstanceState = (typeof instanceStates)[number];

/**
 * A person's container: one per user. The row exists from the deploy request until a kill
 * succeeds; `state` changes only when a job of this instance ends (functions/instances/outcome.ts),
 * and `jobId` is the instance's latest job: while that job is open, nothing else may start.
 */
export const instances = pgTable(
  "instances",
  {
    ...hostedResource(),
    // The LXD name, derived from the user id: stable across redeploys.
    name: text("name").notNull(),
    // The DNS label of its IDE host (<label>.<apps base>): unique among instance labels and app
    // names, kept for the life of the instance.
    label: text("label").notNull(),
    username: text("username").notNull(),
    // AES-256-GCM under KWS_SECRET_KEY, bound to the instance name.
    passwordEncrypted: text("password_encrypted").notNull(),
    ipv4: text("ipv4").notNull(),
    image: text("image").notNull(),
    memoryMB: integer("memory_mb").notNull(),
    cpus: integer("cpus"),
    state: text("state").$type<InstanceState>().notNull(),
    jobId: uuid("job_id").references(() => jobs.id, { onDelete: "set null" }),
    // The person's idle auto-stop choice in minutes; null: the operator's default, 0: never
    // (functions/idle/rules.ts reads it against the operator's limits of the day).
    idleStopMinutes: integer("idle_stop_minutes"),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("instances_user_key").on(t.userId),
    uniqueIndex("instances_name_key").on(t.name),
    uniqueIndex("instances_label_key").on(t.label),
    index("instances_host_idx").on(t.hostId),
    index("instances_job_idx").on(t.jobId),
  ],
);

export type Instance = typeof instances.$inferSelect;

/**
 * The last activity of each kind seen in an instance (functions/idle/): code-server's heartbeat,
 * SSH sessions and streams through the agent as its host's agent reported them, requests through
 * the ingress as the router saw them. `reportedAt`: the agent's latest report that covered it.
 */
export const instanceActivity = pgTable("instance_activity", {
  instanceId: uuid("instance_id")
    .primaryKey()
    .references(() => instances.id, { onDelete: "cascade" }),
  ideAt: timestamp("ide_at", { withTimezone: true }),
  sshAt: timestamp("ssh_at", { withTimezone: true }),
  // Established SSH sessions at the last report; null: the agent could not tell.
  sshSessions: integer("ssh_sessions"),
  streamsAt: timestamp("streams_at", { withTimezone: true }),
  streamsOpen: integer("streams_open"),
  ingressAt: timestamp("ingress_at", { withTimezone: true }),
  reportedAt: timestamp("reported_at", { withTimezone: true }),
});

export type InstanceActivity = typeof instanceActivity.$inferSelect;

export const deviceStates = ["pending", "active", "removing"] as const;
export type DeviceState = (typeof deviceStates)[number];

/**
 * A person's WireGuard device (laptop, phone): a peer on their home host's interface. `pending`
 * until the agent confirmed the peer (a failure deletes the row and frees the address), `removing`
 * while its removal runs. Traffic figures are the last ones a wg.status job read.
 */
export const devices = pgTable(
  "devices",
  {
    ...hostedResource(),
    name: text("name").notNull(),
    publicKey: text("public_key").notNull(),
    // The device's tunnel address, e.g. 10.8.0.2 (leased from the host's wireguard pool).
    address: text("address").notNull(),
    state: text("state").$type<DeviceState>().notNull(),
    jobId: uuid("job_id").references(() => jobs.id, { onDelete: "set null" }),
    lastHandshakeAt: timestamp("last_handshake_at", { withTimezone: true }),
    // Whether the last wg.status reading found it online: a change is a device.online/offline event.
    online: boolean("online").notNull().default(false),
    rxBytes: bigint("rx_bytes", { mode: "number" }).notNull().default(0),
    txBytes: bigint("tx_bytes", { mode: "number" }).notNull().default(0),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("devices_public_key_key").on(t.publicKey),
    index("devices_user_idx").on(t.userId),
    index("devices_host_idx").on(t.hostId),
    index("devices_job_idx").on(t.jobId),
  ],
);

export type Device = typeof devices.$inferSelect;

export const appAccessLevels = ["owner", "authenticated", "public"] as const;
export type AppAccess = (typeof appAccessLevels)[number];

/**
 * A published port of a person's instance, served at <name>.<apps base>. The name is unique among
 * apps here and never equal to an instance label (both are checked under the names lock); the app
 * goes with its instance.
 */
export const apps = pgTable(
  "apps",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    instanceId: uuid("instance_id")
      .notNull()
      .references(() => instances.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    port: integer("port").notNull(),
    access: text("access").$type<AppAccess>().notNull().default("owner"),
    ...timestamps,
  },
  (t) => [uniqueIndex("apps_name_key").on(t.name), index("apps_user_idx").on(t.userId), index("apps_instance_idx").on(t.instanceId)],
);

export type App = typeof apps.$inferSelect;

export const domainStates = ["pending", "verified", "expired", "lost"] as const;
export type DomainState = (typeof domainStates)[number];

/**
 * A person's claim of their own domain for one of their apps. Several people may claim one name
 * while it is pending; whoever shows the TXT record first holds it (`verified`, unique by name) and
 * the other claims become `lost`. A claim nobody proves within 72 h becomes `expired`.
 */
export const domains = pgTable(
  "domains",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    appId: uuid("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    // Lower-case ASCII (IDNA), without the trailing dot.
    name: text("name").notNull(),
    status: text("status").$type<DomainState>().notNull().default("pending"),
    // The value of the TXT record at _kws-challenge.<name> that proves the claim: kws-verify=<token>.
    token: text("token").notNull(),
    verifiedAt: timestamp("verified_at", { withTimezone: true }),
    // The background check's next look at a pending claim, and how many it made (its backoff).
    nextCheckAt: timestamp("next_check_at", { withTimezone: true }).notNull().defaultNow(),
    checkAttempts: integer("check_attempts").notNull().default(0),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("domains_verified_name_key").on(t.name).where(sql`${t.status} = 'verified'`),
    uniqueIndex("domains_user_name_key").on(t.userId, t.name),
    index("domains_name_idx").on(t.name),
    index("domains_app_idx").on(t.appId),
    index("domains_check_idx").on(t.nextCheckAt).where(sql`${t.status} = 'pending'`),
  ],
);

export type Domain = typeof domains.$inferSelect;

export const hookProviders = ["github", "gitlab", "standard"] as const;
export type HookProvider = (typeof hookProviders)[number];

/**
 * A person's inbound deploy hook: a request to its URL signed with its secret (the provider's way)
 * runs `command` in their instance, as their Linux user, in their home directory.
 */
export const hooks = pgTable(
  "hooks",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    provider: text("provider").$type<HookProvider>().notNull(),
    command: text("command").notNull(),
    // Signatures are checked with the secret itself, so it is kept encrypted (AES-256-GCM under
    // KWS_SECRET_KEY, bound to the hook id), not hashed.
    secretEncrypted: text("secret_encrypted").notNull(),
    ...timestamps,
  },
  (t) => [uniqueIndex("hooks_user_name_key").on(t.userId, t.name)],
);

export type Hook = typeof hooks.$inferSelect;

export const hookRunStatuses = ["queued", "running", "succeeded", "failed"] as const;
export type HookRunStatus = (typeof hookRunStatuses)[number];

/**
 * One run of a hook's command. At most one runs and at most one waits behind it per hook (the
 * partial unique indexes): deliveries that come while one waits join it. `output` is the last
 * 64 KB of what the command wrote (stdout and stderr together).
 */
export const hookRuns = pgTable(
  "hook_runs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    hookId: uuid("hook_id")
      .notNull()
      .references(() => hooks.id, { onDelete: "cascade" }),
    status: text("status").$type<HookRunStatus>().notNull(),
    // The provider's event name of the delivery that made the run (push, Push Hook, ...), if it sent one.
    event: text("event"),
    jobId: uuid("job_id").references(() => jobs.id, { onDelete: "set null" }),
    exitCode: integer("exit_code"),
    output: text("output").notNull().default(""),
    // Why it failed when the command could not run (no instance, the host away): job errors, not exit codes.
    error: text("error"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (t) => [
    uniqueIndex("hook_runs_running_key").on(t.hookId).where(sql`${t.status} = 'running'`),
    uniqueIndex("hook_runs_queued_key").on(t.hookId).where(sql`${t.status} = 'queued'`),
    index("hook_runs_hook_created_idx").on(t.hookId, t.createdAt),
    index("hook_runs_job_idx").on(t.jobId),
  ],
);

export type HookRun = typeof hookRuns.$inferSelect;

/**
 * The deliveries a hook accepted, by the provider's delivery id (X-GitHub-Delivery,
 * X-Gitlab-Event-UUID, webhook-id): the primary key is what makes a replay find the run the first
 * one started instead of starting another. Kept 24 hours.
 */
export const hookDeliveries = pgTable(
  "hook_deliveries",
  {
    hookId: uuid("hook_id")
      .notNull()
      .references(() => hooks.id, { onDelete: "cascade" }),
    deliveryId: text("delivery_id").notNull(),
    // Null only inside the transaction that claims the id, until it knows the run.
    runId: uuid("run_id").references(() => hookRuns.id, { onDelete: "cascade" }),
    receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.hookId, t.deliveryId] }), index("hook_deliveries_run_idx").on(t.runId)],
);

/**
 * A name under the apps base held by a `kws tunnel` of a person's own machine. The row keeps the
 * name apart from apps and instance labels (under the names lock); the connection itself lives in
 * the process that accepted it (functions/tunnels/hub.ts), which renews `expiresAt` while it holds
 * it. A row past `expiresAt` holds nothing (its process died, or its CLI did not come back).
 */
export const tunnels = pgTable(
  "tunnels",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    access: text("access").$type<AppAccess>().notNull().default("owner"),
    // SHA-256 of the secret the CLI made for this tunnel: a reconnect that shows it takes the name back.
    keyHash: text("key_hash").notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("tunnels_name_key").on(t.name), index("tunnels_user_idx").on(t.userId)],
);

export type Tunnel = typeof tunnels.$inferSelect;

/** A person's SSH public key, installed for their instance's user (`kws ssh` registers its own). */
export const sshKeys = pgTable(
  "ssh_keys",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    // One authorized_keys line without its comment: `<type> <base64>`.
    publicKey: text("public_key").notNull(),
    // SHA256:<base64> as ssh-keygen -l prints it.
    fingerprint: text("fingerprint").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("ssh_keys_user_fingerprint_key").on(t.userId, t.fingerprint), index("ssh_keys_user_idx").on(t.userId)],
);

export type SshKey = typeof sshKeys.$inferSelect;

/**
 * A person's webhook endpoint: events of the `events` types are sent to `url`, signed with its
 * secret (Standard Webhooks). The secret is AES-256-GCM under KWS_SECRET_KEY; after a rotation the
 * previous one keeps signing beside it until `previousSecretExpiresAt`. `failingSince`: the first
 * failed attempt with no success since (5 days of that disables the endpoint).
 */
export const webhookEndpoints = pgTable(
  "webhook_endpoints",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    description: text("description").notNull().default(""),
    events: text("events").array().notNull(),
    enabled: boolean("enabled").notNull().default(true),
    // Why KWS disabled it (410 Gone, 5 days failing); null when enabled or disabled by its owner.
    disabledReason: text("disabled_reason"),
    secretEncrypted: text("secret_encrypted").notNull(),
    previousSecretEncrypted: text("previous_secret_encrypted"),
    previousSecretExpiresAt: timestamp("previous_secret_expires_at", { withTimezone: true }),
    failingSince: timestamp("failing_since", { withTimezone: true }),
    ...timestamps,
  },
  (t) => [index("webhook_endpoints_user_idx").on(t.userId)],
);

export type WebhookEndpoint = typeof webhookEndpoints.$inferSelect;

/**
 * The outbox: one row per event, inserted in the transaction of the change it reports. `payload`
 * is the body sent, `{type, timestamp, data}`; its id is the message id (`webhook-id: msg_<id>`).
 */
export const webhookEvents = pgTable(
  "webhook_events",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    type: text("type").notNull(),
    payload: jsonb("payload").$type<{ type: string; timestamp: string; data: unknown }>().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("webhook_events_user_idx").on(t.userId)],
);

export const webhookDeliveryStates = ["pending", "succeeded", "failed"] as const;
export type WebhookDeliveryState = (typeof webhookDeliveryStates)[number];

/**
 * One event to one endpoint, made with the event. A worker claims a due pending delivery with
 * FOR UPDATE SKIP LOCKED, setting `leaseId` and moving `nextAttemptAt` to the lease's end: no other
 * worker takes it meanwhile, one whose worker died is due again when the lease runs out, and only
 * the lease's holder may record the attempt's result.
 */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    endpointId: uuid("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    eventId: uuid("event_id")
      .notNull()
      .references(() => webhookEvents.id, { onDelete: "cascade" }),
    state: text("state").$type<WebhookDeliveryState>().notNull().default("pending"),
    // Attempts made (finished or claimed); the next one is attempts + 1.
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true }).notNull().defaultNow(),
    leaseId: uuid("lease_id"),
    ...timestamps,
  },
  (t) => [
    index("webhook_deliveries_due_idx").on(t.nextAttemptAt).where(sql`${t.state} = 'pending'`),
    index("webhook_deliveries_endpoint_idx").on(t.endpointId),
    index("webhook_deliveries_event_idx").on(t.eventId),
  ],
);

export type WebhookDelivery = typeof webhookDeliveries.$inferSelect;

/** One HTTP attempt of a delivery, for the delivery log. */
export const webhookAttempts = pgTable(
  "webhook_attempts",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    deliveryId: uuid("delivery_id")
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: "cascade" }),
    endpointId: uuid("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    attempt: integer("attempt").notNull(),
    statusCode: integer("status_code"),
    durationMs: integer("duration_ms").notNull(),
    error: text("error"),
    // When the delivery is tried again after this attempt; null: it ended.
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("webhook_attempts_endpoint_idx").on(t.endpointId, t.createdAt), index("webhook_attempts_delivery_idx").on(t.deliveryId)],
);

export type WebhookAttempt = typeof webhookAttempts.$inferSelect;

/**
 * An administrator's per-person change of one quota (functions/quotas/): the operator's default
 * (shared/config.ts) applies to every key a person has no row for.
 */
export const quotaOverrides = pgTable(
  "quota_overrides",
  {
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    value: integer("value").notNull(),
    ...timestamps,
  },
  (t) => [primaryKey({ columns: [t.userId, t.key] })],
);

export type QuotaOverride = typeof quotaOverrides.$inferSelect;

// `anonymous`: a request without a sign-in (a sign-up, a failed login); `system`: background work (a job's end, a sweep).
export const auditActorKinds = ["person", "token", "anonymous", "system"] as const;
export type AuditActorKind = (typeof auditActorKinds)[number];

/** `pending`: a job was submitted; its own event with `succeeded` or `failed` follows when it ends. */
export const auditOutcomes = ["succeeded", "failed", "denied", "pending"] as const;
export type AuditOutcome = (typeof auditOutcomes)[number];

/**
 * One state change (or refused attempt) of the audit log (functions/audit/). No foreign keys: the
 * log outlives the people, tokens, hosts and jobs it names.
 */
export const auditEvents = pgTable(
  "audit_events",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
    actorKind: text("actor_kind").$type<AuditActorKind>().notNull(),
    actorUserId: uuid("actor_user_id"),
    actorTokenId: uuid("actor_token_id"),
    // The person whose account or resource it concerns, when not the actor (an administrator's change).
    subjectUserId: uuid("subject_user_id"),
    action: text("action").notNull(),
    targetType: text("target_type"),
    targetId: text("target_id"),
    outcome: text("outcome").$type<AuditOutcome>().notNull(),
    ip: text("ip"),
    requestId: text("request_id"),
    jobId: uuid("job_id"),
    detail: jsonb("detail").$type<Record<string, unknown>>(),
  },
  (t) => [
    index("audit_events_at_idx").on(t.at),
    index("audit_events_actor_idx").on(t.actorUserId, t.at),
    index("audit_events_subject_idx").on(t.subjectUserId, t.at),
    index("audit_events_action_idx").on(t.action, t.at),
    index("audit_events_job_idx").on(t.jobId).where(sql`${t.jobId} is not null`),
  ],
);

export type AuditEvent = typeof auditEvents.$inferSelect;

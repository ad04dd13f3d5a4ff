import { z } from "zod";
import { WireGuardFactsSchema, WireGuardPeerSetSchema, wireguardKey } from "./wireguard";

/**
 * The agent protocol: every websocket frame is one JSON message of this catalogue.
 * `v` is the protocol major version; a peer with another major is refused at hello.
 * Minor versions add optional fields, or messages that a side sends only to a peer whose hello or
 * welcome announced that minor (see `speaks`), so they interoperate.
 *
 * 1.1: wg-peers-request / wg-peers; WireGuard facts carry the interface address.
 * 1.2: welcome may ask for activity reports (`activity`); the agent then sends `activity`.
 * 1.2: metrics (the agent's own: LXD call timings, instances by state, WireGuard peers).
 */
export const PROTOCOL_MAJOR = 1;
export const PROTOCOL_MINOR = 2;
export const PROTOCOL_VERSION = `${PROTOCOL_MAJOR}.${PROTOCOL_MINOR}`;

const envelope = { v: z.literal(PROTOCOL_MAJOR), id: z.string().min(1).max(64) };

export const HostFactsSchema = z.object({
  cpus: z.number().int().nonnegative(),
  memoryBytes: z.number().nonnegative(),
  diskFreeBytes: z.number().nonnegative(),
  runningInstances: z.number().int().nonnegative(),
  instances: z.number().int().nonnegative(),
  /**
   * Sent by agents with a WireGuard interface (optional: older agents still validate). 1.0 agents
   * leave out the address, without which no device can be configured: their block is dropped
   * rather than the whole frame. Only a block without an address counts as 1.0: a bad address
   * refuses the frame.
   */
  wireguard: z
    .union([WireGuardFactsSchema, WireGuardFactsSchema.extend({ address: z.undefined().optional() }).transform(() => undefined)])
    .optional(),
});

export const JobErrorSchema = z.object({ code: z.string().min(1).max(100), message: z.string().max(4000) });

// agent → gateway

export const HelloSchema = z.object({
  ...envelope,
  type: z.literal("hello"),
  protocol: z.string().regex(/^\d+\.\d+$/),
  agentVersion: z.string().max(100),
  lxdVersion: z.string().max(100).nullable(),
  degradedReason: z.string().max(2000).nullable(),
});

export const FactsSchema = z.object({ ...envelope, type: z.literal("facts"), facts: HostFactsSchema });

export const ProgressSchema = z.object({
  ...envelope,
  type: z.literal("progress"),
  jobId: z.uuid(),
  step: z.string().min(1).max(100),
  message: z.string().max(2000),
});

export const ResultSchema = z.discriminatedUnion("ok", [
  z.object({ ...envelope, type: z.literal("result"), jobId: z.uuid(), ok: z.literal(true), data: z.unknown() }),
  z.object({ ...envelope, type: z.literal("result"), jobId: z.uuid(), ok: z.literal(false), error: JobErrorSchema }),
]);

const idleMs = z.number().nonnegative().max(10 * 365 * 24 * 3600 * 1000);

/**
 * What an agent saw in one running instance (since 1.2). Times are ages (ms before the report was
 * sent), so the hosts' clocks never matter; null: nothing seen (or, for SSH, not readable).
 */
export const InstanceActivityReportSchema = z.object({
  name: z.string().min(1).max(100),
  /** Since code-server's own last heartbeat (it beats while a request came in the last minute or a websocket is open). */
  ideIdleMs: idleMs.nullable(),
  /** Established TCP connections to the instance's SSH port. */
  sshSessions: z.number().int().nonnegative().max(100_000).nullable(),
  /** Streams open through this agent to the instance now (IDE websockets, kws ssh, kept-alive requests). */
  streamsOpen: z.number().int().nonnegative().max(1_000_000),
  /** Since a stream to the instance was last open: 0 while one is. */
  streamsIdleMs: idleMs.nullable(),
});

/** The host's running instances and their activity, every `activity.intervalMs` of the welcome (since 1.2). */
export const ActivitySchema = z.object({ ...envelope, type: z.literal("activity"), instances: z.array(InstanceActivityReportSchema).max(10_000) });

/** Asks for the host's whole desired WireGuard peer set (answered with wg-peers; since 1.1). */
export const WireGuardPeersRequestSchema = z.object({ ...envelope, type: z.literal("wg-peers-request") });

/** An LXD call's kind: its method and path with names left out, e.g. `PUT /1.0/instances/:name/state`. */
const lxdOperation = z.string().regex(/^[A-Z]{3,7} \/[A-Za-z0-9/:._-]{0,120}$/, "must be METHOD /path");

/**
 * The agent's own figures since its last report (since 1.2). LXD timings are the durations of the
 * calls made since then (the gateway adds each to a histogram); the rest is the state now.
 */
export const AgentMetricsSchema = z.object({
  ...envelope,
  type: z.literal("metrics"),
  lxd: z.array(z.object({ operation: lxdOperation, seconds: z.array(z.number().nonnegative().max(86_400)).max(1000) })).max(100),
  instances: z.partialRecord(z.enum(["Running", "Stopped", "Frozen", "Error", "Other"]), z.number().int().nonnegative()),
  wireguard: z
    .object({
      peers: z.number().int().nonnegative(),
      /** Each peer's latest handshake (epoch seconds), null before its first. */
      handshakes: z.array(z.object({ publicKey: wireguardKey, latestHandshakeAt: z.number().int().nonnegative().nullable() })).max(65_536),
    })
    .optional(),
});

// gateway → agent

export const WelcomeSchema = z.object({
  ...envelope,
  type: z.literal("welcome"),
  protocol: z.string(),
  hostId: z.uuid(),
  hostName: z.string(),
  heartbeatMs: z.number().int().positive(),
  /** Asks for activity reports this often, probing these ports of each instance (since 1.2; absent: none). */
  activity: z
    .object({
      intervalMs: z.number().int().min(1000).max(3_600_000),
      idePort: z.number().int().min(1).max(65535),
      sshPort: z.number().int().min(1).max(65535),
    })
    .optional(),
});

export const RefusedSchema = z.object({ ...envelope, type: z.literal("refused"), reason: z.string() });

export const CommandSchema = z.object({
  ...envelope,
  type: z.literal("command"),
  jobId: z.uuid(),
  attempt: z.number().int().positive(),
  kind: z.string().min(1).max(100),
  payload: z.record(z.string(), z.unknown()),
  /** ISO time after which the work is pointless: the agent refuses to start it. */
  deadline: z.iso.datetime({ offset: true }),
});

/** The result of `jobId` is stored: the agent may forget it from its resend list. */
export const AckSchema = z.object({ ...envelope, type: z.literal("ack"), jobId: z.uuid() });

/** The host's desired WireGuard peers, as PostgreSQL has them when the request was read. */
export const WireGuardPeersSchema = z.object({
  ...envelope,
  type: z.literal("wg-peers"),
  /** The id of the wg-peers-request this answers. */
  requestId: z.string().min(1).max(64),
  peers: WireGuardPeerSetSchema,
});

// either way

/** A frame the peer could not accept; the connection stays up. */
export const ProtocolErrorSchema = z.object({
  ...envelope,
  type: z.literal("error"),
  message: z.string(),
});

export const AgentMessageSchema = z.discriminatedUnion("type", [
  HelloSchema,
  FactsSchema,
  ProgressSchema,
  ResultSchema,
  WireGuardPeersRequestSchema,
  ActivitySchema,
  AgentMetricsSchema,
  ProtocolErrorSchema,
]);
export const GatewayMessageSchema = z.discriminatedUnion("type", [
  WelcomeSchema,
  RefusedSchema,
  CommandSchema,
  AckSchema,
  WireGuardPeersSchema,
  ProtocolErrorSchema,
]);

export type AgentMessage = z.infer<typeof AgentMessageSchema>;
export type GatewayMessage = z.infer<typeof GatewayMessageSchema>;
export type Hello = z.infer<typeof HelloSchema>;
export type Command = z.infer<typeof CommandSchema>;
export type Result = z.infer<typeof ResultSchema>;
export type WireGuardPeersAnswer = z.infer<typeof WireGuardPeersSchema>;
export type HostFactsMessage = z.infer<typeof HostFactsSchema>;
export type Welcome = z.infer<typeof WelcomeSchema>;
export type ActivitySettings = NonNullable<Welcome["activity"]>;
export type InstanceActivityReport = z.infer<typeof InstanceActivityReportSchema>;
export type AgentMetrics = z.infer<typeof AgentMetricsSchema>;

type Body<T> = T extends unknown ? Omit<T, "v" | "id"> : never;
export type AgentMessageBody = Body<AgentMessage>;
export type GatewayMessageBody = Body<GatewayMessage>;

let sequence = 0;
/** Stamps the envelope (version and a message id) on a message body. */
export function stamp<T extends object>(body: T): T & { v: typeof PROTOCOL_MAJOR; id: string } {
  sequence = (sequence + 1) % Number.MAX_SAFE_INTEGER;
  return { v: PROTOCOL_MAJOR, id: `${Date.now().toString(36)}-${sequence.toString(36)}`, ...body };
}

export type Parsed<T> = { ok: true; message: T } | { ok: false; error: string };

/** Parses one frame; a bad one yields an error string to log and report, never an exception. */
export function parseFrame<T>(schema: z.ZodType<T>, data: unknown): Parsed<T> {
  let json: unknown;
  try {
    json = JSON.parse(typeof data === "string" ? data : String(data));
  } catch {
    return { ok: false, error: "frame is not JSON" };
  }
  if (json && typeof json === "object" && "v" in json && json.v !== PROTOCOL_MAJOR) {
    return { ok: false, error: `protocol major version ${String(json.v)} is not supported (this side speaks ${PROTOCOL_MAJOR})` };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, error: `invalid message: ${issue ? `${issue.path.join(".") || "frame"}: ${issue.message}` : "unknown"}` };
  }
  return { ok: true, message: parsed.data };
}

/** Whether a peer's "major.minor" can talk to us. */
export function compatible(protocol: string): boolean {
  return Number(protocol.split(".")[0]) === PROTOCOL_MAJOR;
}

/** Whether a compatible peer's "major.minor" knows the messages added in `minor`. */
export function speaks(protocol: string, minor: number): boolean {
  return compatible(protocol) && Number(protocol.split(".")[1]) >= minor;
}

/** Agent messages newer than 1.0, with the minor that added them: sent only to gateways that speak it. */
export const AGENT_MESSAGE_MINOR: Partial<Record<AgentMessage["type"], number>> = { "wg-peers-request": 1, activity: 2, metrics: 2 };

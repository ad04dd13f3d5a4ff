import { z } from "zod";
import {
  WireGuardFactsSchema,
  WireGuardPeerSchema,
  WireGuardPeerSetSchema,
  WireGuardPeerStatusSchema,
  WireGuardSyncResultSchema,
  wireguardKey,
} from "./wireguard";
import { instancePassword, instanceUsername } from "../instances/rules";

/**
 * The commands an agent executes: each kind's payload schema and result schema.
 * Every command is idempotent (create-if-absent, start-if-stopped, delete-if-present),
 * because delivery is at-least-once.
 */

// LXD's rule for instance names: letters, digits and dashes, starting with a letter, not ending with a dash.
export const instanceName = z
  .string()
  .regex(/^[a-zA-Z][a-zA-Z0-9-]{0,61}[a-zA-Z0-9]$/, "must be 2-63 letters, digits or '-', starting with a letter");

const lxdValue = z.string().max(4096);
const networkName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/);
const poolName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/);
const lxdKey = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,127}$/, "must be an LXD config key");

export const InstanceSummarySchema = z.object({
  name: z.string(),
  status: z.string(),
  ipv4: z.string().nullable(),
});

export const commandSchemas = {
  noop: { payload: z.object({}).strict(), result: z.object({}) },
  "host.facts": {
    payload: z.object({}).strict(),
    result: z.object({
      cpus: z.number(),
      memoryBytes: z.number(),
      diskFreeBytes: z.number(),
      runningInstances: z.number(),
      instances: z.number(),
      /** Absent from agents without WireGuard (older ones, or the interface could not be set up). */
      wireguard: WireGuardFactsSchema.optional(),
    }),
  },
  "instance.create": {
    payload: z
      .object({
        name: instanceName,
        image: z.string().min(1).max(200),
        ipv4Address: z.ipv4().optional(),
        network: networkName.default("lxdbr0"),
        pool: poolName.default("default"),
        config: z.record(lxdKey, lxdValue).default({}),
        /** Start it after creating (default true). */
        start: z.boolean().default(true),
      })
      .strict(),
    result: InstanceSummarySchema,
  },
  /**
   * A user's development machine, made ready: create-if-absent, start, network, DNS, the user with
   * sudo and password, SSH, code-server, each step idempotent. The password is opened from its
   * sealed form by the gateway just before sending, so it is never stored in the clear.
   */
  "instance.deploy": {
    payload: z
      .object({
        name: instanceName,
        image: z.string().min(1).max(200),
        ipv4Address: z.ipv4(),
        network: networkName.default("lxdbr0"),
        /** Unset: the host's fast pool (kws-btrfs) when it has one, else "default". */
        pool: poolName.optional(),
        memoryMB: z.number().int().min(64).max(1_048_576),
        cpus: z.number().int().min(1).max(1024).optional(),
        /** Root disk size (GiB) on pools that enforce it (btrfs); absent in jobs of older control planes: no limit. */
        diskGB: z.number().int().min(1).max(65_536).optional(),
        /** LXD limits.processes; absent in jobs of older control planes: no limit. */
        processes: z.number().int().min(100).max(4_194_304).optional(),
        username: instanceUsername,
        password: instancePassword,
        idePort: z.number().int().min(1024).max(65535).default(8099),
        /** false: a bare container (create, start, network only). */
        provision: z.boolean().default(true),
      })
      .strict(),
    result: InstanceSummarySchema,
  },
  "instance.start": {
    payload: z
      .object({
        name: instanceName,
        /** Also wait until the address answers on this TCP port (e.g. code-server's). */
        ready: z.object({ ipv4Address: z.ipv4(), port: z.number().int().min(1).max(65535) }).strict().optional(),
      })
      .strict(),
    result: InstanceSummarySchema,
  },
  "instance.stop": {
    payload: z
      .object({
        name: instanceName,
        force: z.boolean().default(false),
        timeoutSeconds: z.number().int().min(1).max(600).default(30),
      })
      .strict(),
    result: InstanceSummarySchema,
  },
  "instance.delete": {
    payload: z.object({ name: instanceName }).strict(),
    result: z.object({ name: z.string(), deleted: z.boolean() }),
  },
  "instance.exec": {
    payload: z
      .object({
        name: instanceName,
        command: z.array(z.string().max(10_000)).min(1).max(200),
        env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(10_000)).default({}),
        user: z.number().int().min(0).optional(),
        group: z.number().int().min(0).optional(),
        cwd: z.string().startsWith("/").optional(),
      })
      .strict(),
    result: z.object({ exitCode: z.number().int(), stdout: z.string(), stderr: z.string() }),
  },
  // WireGuard: the agent's interface and its device peers. Each converges to the state asked for.
  "wg.peer.add": {
    payload: WireGuardPeerSchema,
    result: z.object({ publicKey: wireguardKey, status: z.enum(["added", "updated", "unchanged"]) }),
  },
  "wg.peer.remove": {
    payload: z.object({ publicKey: wireguardKey }).strict(),
    result: z.object({ publicKey: wireguardKey, removed: z.boolean() }),
  },
  "wg.status": {
    payload: z.object({}).strict(),
    result: WireGuardFactsSchema.extend({ peers: z.array(WireGuardPeerStatusSchema) }),
  },
  /** The full desired peer set: missing peers added, unknown ones removed, unchanged ones untouched. */
  "wg.sync": {
    payload: z.object({ peers: WireGuardPeerSetSchema }).strict(),
    result: WireGuardSyncResultSchema,
  },
} as const;

export type CommandKind = keyof typeof commandSchemas;
export const commandKinds = Object.keys(commandSchemas) as CommandKind[];

export type CommandPayload<K extends CommandKind> = z.output<(typeof commandSchemas)[K]["payload"]>;
export type CommandResult<K extends CommandKind> = z.output<(typeof commandSchemas)[K]["result"]>;

export function isCommandKind(kind: string): kind is CommandKind {
  return Object.hasOwn(commandSchemas, kind);
}

/** Error codes an agent reports; the gateway stores them on the failed job. */
export const agentErrorCodes = {
  lxdUnavailable: "lxd_unavailable",
  lxd: "lxd_error",
  invalidPayload: "invalid_payload",
  unknownCommand: "unknown_command",
  deadline: "deadline_passed",
  shuttingDown: "shutting_down",
  internal: "agent_error",
  /** wg, wireguard-go or nft missing or failing, or the agent not allowed to use them. */
  wireguard: "wireguard_error",
  /** nft missing or failing for the host's tenant tables (agent/isolation/host-firewall.ts). */
  firewall: "firewall_error",
} as const;

import { z } from "zod";

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
    }),
  },
  "instance.create": {
    payload: z
      .object({
        name: instanceName,
        image: z.string().min(1).max(200),
        ipv4Address: z.ipv4().optional(),
        network: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/).default("lxdbr0"),
        pool: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/).default("default"),
        config: z.record(lxdKey, lxdValue).default({}),
        /** Start it after creating (default true). */
        start: z.boolean().default(true),
      })
      .strict(),
    result: InstanceSummarySchema,
  },
  "instance.start": { payload: z.object({ name: instanceName }).strict(), result: InstanceSummarySchema },
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
} as const;

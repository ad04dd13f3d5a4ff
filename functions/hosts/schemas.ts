import { z } from "@hono/zod-openapi";
import { commandKinds } from "../../shared/protocol/commands";
import { isHostAddress } from "../../shared/protocol/host-address";

export const CreateHostBody = z
  .object({
    name: z
      .string({ message: "must be a string" })
      .regex(/^[a-z][a-z0-9-]{0,61}[a-z0-9]$/, "must be 2-63 lower-case letters, digits or '-', starting with a letter"),
    publicAddress: z
      .string({ message: "must be a string" })
      .max(253, "must be at most 253 characters")
      .refine(isHostAddress, "must be a DNS name, an IPv4 address or an IPv6 address (without brackets or port)")
      .optional(),
  })
  .openapi("CreateHostRequest");

export const HostSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    publicAddress: z.string().nullable(),
    state: z.enum(["online", "offline", "draining"]),
    online: z.boolean(),
    draining: z.boolean(),
    enrolled: z.boolean(),
    lastHeartbeatAt: z.string().nullable(),
    connectedAt: z.string().nullable(),
    agentVersion: z.string().nullable(),
    lxdVersion: z.string().nullable(),
    degradedReason: z.string().nullable(),
    facts: z
      .object({
        cpus: z.number(),
        memoryBytes: z.number(),
        diskFreeBytes: z.number(),
        runningInstances: z.number(),
        instances: z.number(),
        wireguard: z
          .object({ interface: z.string(), publicKey: z.string(), listenPort: z.number(), address: z.string(), endpoint: z.string().nullable() })
          .optional()
          .openapi({ description: "The host's WireGuard interface: only its public key leaves the host" }),
      })
      .nullable(),
    createdAt: z.string(),
  })
  .openapi("Host");

export const HostResponse = z.object({ host: HostSchema }).openapi("HostResponse");
export const HostListResponse = z.object({ hosts: z.array(HostSchema) }).openapi("HostList");
export const CreatedHostResponse = z
  .object({
    host: HostSchema,
    enrollmentToken: z.string().openapi({ description: "one-time, expires after 1 h; shown once" }),
  })
  .openapi("CreatedHost");

export const HostIdParam = z.object({ id: z.uuid({ message: "must be a host id" }) });

export const SubmitJobBody = z
  .object({
    kind: z.enum(commandKinds as [string, ...string[]], { message: `must be one of ${commandKinds.join(", ")}` }),
    payload: z.record(z.string(), z.unknown()).default({}),
    deadlineSeconds: z.number().int().min(1).max(7 * 24 * 3600).optional(),
  })
  .openapi("SubmitJobRequest");

export const EnrollBody = z
  .object({ token: z.string({ message: "must be a string" }).min(1, "is required").max(200, "is too long") })
  .openapi("EnrollRequest");

export const EnrolledResponse = z
  .object({ hostId: z.uuid(), hostName: z.string(), credential: z.string() })
  .openapi("Enrolled");

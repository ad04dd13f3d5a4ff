import { z } from "@hono/zod-openapi";
import { WIREGUARD_KEY_PATTERN } from "../../shared/protocol/wireguard";
import { JobSchema } from "../jobs/schemas";
import { labelField } from "../schemas";

/** A device counts as online when its last handshake is this recent. */
export const ONLINE_WINDOW_MS = 3 * 60_000;

export const CreateDeviceBody = z
  .object({
    name: labelField(40)
      .regex(/^[\p{L}\p{N} ._'()-]+$/u, "may contain letters, digits, spaces and . _ ' ( ) -")
      .openapi({ example: "Ada's laptop" }),
    publicKey: z
      .string({ message: "must be a string" })
      .trim()
      .regex(WIREGUARD_KEY_PATTERN, "must be a WireGuard public key: base64 of 32 bytes (wg pubkey prints one)")
      .optional()
      .openapi({ description: "Leave out to have a key pair made for you (the private key is shown once)" }),
  })
  .openapi("CreateDevice");

export const DeviceSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    publicKey: z.string(),
    address: z.string(),
    state: z.enum(["pending", "active", "removing"]),
    online: z.boolean(),
    lastHandshakeAt: z.string().nullable(),
    rxBytes: z.number().int(),
    txBytes: z.number().int(),
    createdAt: z.string(),
  })
  .openapi("Device");

export const DeviceListSchema = z.object({ devices: z.array(DeviceSchema) }).openapi("DeviceList");
export const CreatedDeviceSchema = z
  .object({
    device: DeviceSchema,
    job: JobSchema.openapi({ description: "The job that adds the peer on the host" }),
    config: z.string().openapi({ description: "The client configuration (wg-quick format)" }),
  })
  .openapi("CreatedDevice");

export const DeviceIdParam = z.object({ id: z.uuid({ message: "must be a device id" }) });
export const ConfigQuery = z.object({ format: z.enum(["conf", "qr"], { message: 'must be "conf" or "qr"' }).optional() });

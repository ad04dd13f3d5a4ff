import { createHash } from "node:crypto";
import { z } from "@hono/zod-openapi";
import { JobSchema } from "../jobs/schemas";
import { labelField } from "../schemas";

export const MAX_SSH_KEYS = 10;

const KEY_TYPES = new Set([
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
]);

/** `type base64` of an OpenSSH public key line, whose blob names the same type; undefined otherwise. */
export function parsePublicKey(line: string): { publicKey: string; fingerprint: string } | undefined {
  const [type, data] = line.trim().split(/\s+/);
  if (!type || !data || !KEY_TYPES.has(type) || !/^[A-Za-z0-9+/]+={0,2}$/.test(data)) return undefined;
  const blob = Buffer.from(data, "base64");
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (blob.subarray(4, 4 + length).toString("latin1") !== type) return undefined;
  return { publicKey: `${type} ${data}`, fingerprint: `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}` };
}

export const CreateSshKeyBody = z
  .object({
    name: labelField(64).regex(/^[\p{L}\p{N} ._:@/-]+$/u, "may contain letters, digits, spaces and . _ : @ / -"),
    publicKey: z
      .string({ message: "must be a string" })
      .max(16_384, "must be at most 16384 characters")
      .refine((v) => parsePublicKey(v) !== undefined, "must be an OpenSSH public key line (ssh-ed25519 AAAA…, as in id_ed25519.pub)")
      .openapi({ example: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI… ada@laptop" }),
  })
  .openapi("CreateSshKey");

export const SshKeySchema = z
  .object({ id: z.uuid(), name: z.string(), publicKey: z.string(), fingerprint: z.string(), createdAt: z.string() })
  .openapi("SshKey");

export const SshKeyResponse = z
  .object({
    key: SshKeySchema,
    job: JobSchema.nullable().openapi({ description: "The job that installs your keys in your running instance; null while it is not running" }),
  })
  .openapi("SshKeyResponse");

export const SshKeyListSchema = z.object({ keys: z.array(SshKeySchema) }).openapi("SshKeyList");
export const SshKeyIdParam = z.object({ id: z.uuid({ message: "must be a key id" }) });

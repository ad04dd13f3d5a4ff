import type { z } from "@hono/zod-openapi";
import type { SshKey } from "../../shared/db/schema";
import type { SshKeySchema } from "./schemas";

export function presentSshKey(key: SshKey): z.infer<typeof SshKeySchema> {
  return { id: key.id, name: key.name, publicKey: key.publicKey, fingerprint: key.fingerprint, createdAt: key.createdAt.toISOString() };
}

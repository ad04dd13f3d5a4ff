import type { z } from "@hono/zod-openapi";
import type { ApiToken } from "../../shared/db/schema";
import type { TokenSchema } from "./schemas";

/** A token as the API shows it: never its secret or hash. */
export const presentToken = (t: ApiToken): z.infer<typeof TokenSchema> => ({
  id: t.id,
  name: t.name,
  prefix: t.prefix,
  scope: t.scope,
  createdAt: t.createdAt.toISOString(),
  expiresAt: t.expiresAt?.toISOString() ?? null,
  lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
});

import { z } from "@hono/zod-openapi";
import { apiTokenScopes } from "../../shared/db/schema";
import { labelField } from "../schemas";

const Scope = z.enum(apiTokenScopes, { message: "must be full or read" }).openapi({ description: "read: GET and HEAD only" });

export const CreateTokenBody = z
  .object({
    name: labelField(64).regex(/^[\p{L}\p{N} ._:@/-]+$/u, "may contain letters, digits, spaces and . _ : @ / -"),
    expiresInDays: z
      .number({ message: "must be a number" })
      .int("must be a whole number")
      .min(1, "must be at least 1")
      .max(365, "must be at most 365")
      .optional(),
    scope: Scope.default("full"),
  })
  .openapi("CreateTokenRequest");

export const TokenSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    prefix: z.string(),
    scope: Scope,
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    lastUsedAt: z.string().nullable(),
  })
  .openapi("ApiToken");

export const CreatedTokenSchema = z
  .object({ token: TokenSchema, secret: z.string().openapi({ description: "shown once" }) })
  .openapi("CreatedApiToken");

export const TokenListSchema = z.object({ tokens: z.array(TokenSchema) }).openapi("ApiTokenList");

export const TokenIdParam = z.object({ id: z.uuid({ message: "must be a token id" }) });

import { z } from "@hono/zod-openapi";
import { TokenSchema } from "../tokens/schemas";

/**
 * Device authorization (RFC 8628) for `kws login`: the field names are the RFC's (snake_case), so
 * any OAuth device-flow client reads them.
 */

export const CODE_TTL_SECONDS = 10 * 60;
/** How often the CLI may poll, in seconds (RFC 8628's default). */
export const POLL_INTERVAL_SECONDS = 5;
/** Letters only, no vowels (no words) and none that look alike: 20^8 ≈ 2.6·10^10 codes (RFC 8628 §6.1). */
export const USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ";
export const USER_CODE_LENGTH = 8;

export const DeviceCodeBody = z
  .object({
    client_name: z
      .string({ message: "must be a string" })
      .trim()
      .min(1, "must not be empty")
      .max(64, "must be at most 64 characters")
      .regex(/^[\p{L}\p{N} ._:@/-]+$/u, "may contain letters, digits, spaces and . _ : @ / -")
      .optional()
      .openapi({ description: "Names the API token made on approval", example: "kws CLI on ada-laptop" }),
  })
  .openapi("DeviceCodeRequest");

export const DeviceCodeSchema = z
  .object({
    device_code: z.string().openapi({ description: "The CLI's secret: poll /device/token with it" }),
    user_code: z.string().openapi({ example: "BDFG-HJKL", description: "What the person checks on the page" }),
    verification_uri: z.string(),
    verification_uri_complete: z.string().openapi({ description: "The page with the code filled in" }),
    expires_in: z.number().int(),
    interval: z.number().int().openapi({ description: "Seconds to wait between polls" }),
  })
  .openapi("DeviceCode");

export const DeviceTokenBody = z
  .object({
    device_code: z.string({ message: "must be a string" }).min(1, "must not be empty").max(128, "must be at most 128 characters"),
  })
  .openapi("DeviceTokenRequest");

export const DeviceTokenSchema = z
  .object({
    access_token: z.string().openapi({ description: "An API token, shown once" }),
    token_type: z.literal("bearer"),
    token: TokenSchema,
  })
  .openapi("DeviceToken");

/** A user code as typed: case, spaces and dashes do not matter. */
export const normalizeUserCode = (typed: string) => typed.toUpperCase().replace(/[^A-Z]/g, "");

export const UserCodeField = z
  .string({ message: "must be a string" })
  .transform(normalizeUserCode)
  .refine((code) => code.length === USER_CODE_LENGTH && [...code].every((ch) => USER_CODE_ALPHABET.includes(ch)), `must be the ${USER_CODE_LENGTH} letters the terminal shows, e.g. BDFG-HJKL`);

export const DecisionForm = z.object({
  code: UserCodeField,
  decision: z.enum(["approve", "deny"], { message: "must be approve or deny" }),
});

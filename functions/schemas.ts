import { z } from "@hono/zod-openapi";
import { type ErrorCode, errorStatus } from "./core/errors";

/** Shapes used by more than one function. */

/** Every code the API answers with (each maps to one HTTP status). */
export const ErrorCodeSchema = z.enum(Object.keys(errorStatus) as [ErrorCode, ...ErrorCode[]]).openapi("ErrorCode", { example: "invalid" });

export const ErrorSchema = z
  .object({
    error: z.object({
      code: ErrorCodeSchema,
      message: z.string(),
      requestId: z.string(),
      issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      jobId: z.uuid().optional().openapi({ description: "On a 409: the job that is still running" }),
    }),
  })
  .openapi("Error");

/** A name a person gives one of their things (a device, an API token): trimmed, not empty, at most `max` characters. */
export const labelField = (max: number) =>
  z.string({ message: "must be a string" }).trim().min(1, "must not be empty").max(max, `must be at most ${max} characters`);

export const errorResponse = (description: string) => ({
  content: { "application/json": { schema: ErrorSchema } },
  description,
});

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  content: { "application/json": { schema } },
  required: true,
});

export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

export const UserSchema = z
  .object({
    id: z.uuid(),
    email: z.string(),
    username: z.string(),
    firstName: z.string(),
    lastName: z.string(),
    verified: z.boolean(),
    isAdmin: z.boolean(),
  })
  .openapi("User");

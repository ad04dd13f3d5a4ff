import { z } from "@hono/zod-openapi";
import { hookProviders, hookRunStatuses } from "../../shared/db/schema";
import { labelField } from "../schemas";

export const MAX_HOOKS = 10;
/** Runs a hook may start in any hour; deliveries beyond get 429. */
export const RUNS_PER_HOUR = 30;
/** The tail of a run's output that is kept (stdout and stderr together). */
export const OUTPUT_BYTES = 64 * 1024;
/** How long a command may run before it is stopped (exit code 124). */
export const RUN_TIMEOUT_SECONDS = 300;
export const MAX_COMMAND_CHARS = 4000;

export const CreateHookBody = z
  .object({
    name: labelField(64),
    provider: z.enum(hookProviders, { message: `must be one of ${hookProviders.join(", ")}` }).openapi({
      description: "Whose signature the hook checks: GitHub's X-Hub-Signature-256, GitLab's X-Gitlab-Token, or Standard Webhooks headers",
    }),
    command: z
      .string({ message: "must be a string" })
      .trim()
      .min(1, "must not be empty")
      .max(MAX_COMMAND_CHARS, `must be at most ${MAX_COMMAND_CHARS} characters`)
      .refine((v) => !v.includes("\0"), "must not contain NUL characters")
      .openapi({ description: "A shell command run in your instance as your user, in your home directory", example: "cd app && git pull && make restart" }),
  })
  .openapi("CreateHook");

export const HookIdParam = z.object({ id: z.uuid({ message: "must be a hook id" }) });

export const HookSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    provider: z.enum(hookProviders),
    command: z.string(),
    url: z.string().openapi({ description: "Where the provider sends its deliveries", example: "https://kws.example.org/hooks/v1/5f0c…" }),
    createdAt: z.string(),
  })
  .openapi("Hook");

export const CreatedHookSchema = z
  .object({
    hook: HookSchema.extend({
      secret: z.string().openapi({ description: "The secret to give the provider; shown this once" }),
    }),
  })
  .openapi("CreatedHook");

export const HookListSchema = z.object({ hooks: z.array(HookSchema) }).openapi("HookList");

export const HookRunSchema = z
  .object({
    id: z.uuid(),
    status: z.enum(hookRunStatuses).openapi({ description: "queued: waits for the running one to end" }),
    event: z.string().nullable().openapi({ description: "The provider's event name (push, Push Hook, …)" }),
    jobId: z.uuid().nullable(),
    exitCode: z.number().int().nullable().openapi({ description: "124: stopped after the time limit" }),
    output: z.string().openapi({ description: `The last ${OUTPUT_BYTES / 1024} KB of the command's output (stdout and stderr)` }),
    error: z.string().nullable().openapi({ description: "Why the command did not run to its end (no running instance, the host away)" }),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .openapi("HookRun");

export const HookRunListSchema = z.object({ runs: z.array(HookRunSchema) }).openapi("HookRunList");

/** What a delivery is answered: the run it started, joined or (a replay) started before; none for a ping. */
export const DeliveryAnswerSchema = z
  .object({
    run: z.object({ id: z.uuid(), jobId: z.uuid().nullable() }).nullable(),
    message: z.string(),
  })
  .openapi("HookDelivery");

export type HookJson = z.infer<typeof HookSchema>;
export type HookRunJson = z.infer<typeof HookRunSchema>;
export type DeliveryAnswer = z.infer<typeof DeliveryAnswerSchema>;

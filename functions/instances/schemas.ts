import { z } from "@hono/zod-openapi";
import { instancePassword, instanceUsername } from "../../shared/instances/rules";
import { IdleSchema } from "../idle/schemas";

export const DeployBody = z
  .object({
    username: instanceUsername,
    password: instancePassword,
  })
  .openapi("DeployInstance");

export const RevealQuery = z.object({
  reveal: z.enum(["password"], { message: 'must be "password"' }).optional(),
});

export const InstanceSchema = z
  .object({
    state: z.enum(["none", "provisioning", "running", "stopped", "failed"]),
    host: z.string().nullable().openapi({ description: "The host's name" }),
    ip: z.string().nullable(),
    username: z.string().nullable(),
    urls: z.object({ ide: z.string(), ssh: z.string() }).nullable(),
    password: z.string().optional().openapi({ description: "Only with ?reveal=password" }),
    job: z
      .object({ id: z.uuid(), kind: z.string(), status: z.enum(["queued", "running", "succeeded", "failed"]), error: z.object({ code: z.string(), message: z.string() }).optional() })
      .nullable()
      .openapi({ description: "The instance's latest job" }),
    idle: IdleSchema.nullable().openapi({ description: "Idle auto-stop: when it stops and why it is awake" }),
    createdAt: z.string().nullable(),
  })
  .openapi("Instance");

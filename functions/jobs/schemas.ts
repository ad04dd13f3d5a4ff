import { z } from "@hono/zod-openapi";
import type { Job } from "../../shared/db/schema";

export const JobSchema = z
  .object({
    id: z.uuid(),
    hostId: z.uuid(),
    kind: z.string(),
    status: z.enum(["queued", "running", "succeeded", "failed"]),
    attempts: z.number().int(),
    steps: z.array(z.object({ step: z.string(), message: z.string(), at: z.string() })),
    result: z.unknown().optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
    deadline: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Job");

export const JobResponse = z.object({ job: JobSchema }).openapi("JobResponse");
export const JobIdParam = z.object({ id: z.uuid({ message: "must be a job id" }) });

export function presentJob(job: Job): z.infer<typeof JobSchema> {
  return {
    id: job.id,
    hostId: job.hostId,
    kind: job.kind,
    status: job.status,
    attempts: job.attempts,
    steps: job.steps,
    ...(job.status === "succeeded" ? { result: job.result } : {}),
    ...(job.error ? { error: job.error } : {}),
    deadline: job.deadline.toISOString(),
    createdAt: job.createdAt.toISOString(),
    updatedAt: job.updatedAt.toISOString(),
  };
}

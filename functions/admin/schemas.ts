import { z } from "@hono/zod-openapi";
import { JobSchema } from "../jobs/schemas";

export const PersonIdParam = z.object({ id: z.uuid({ message: "must be a person's id" }) });

export const PeopleQuery = z.object({
  q: z.string().trim().max(200, "must be at most 200 characters").optional().openapi({ description: "part of an e-mail address or username" }),
});

export const PersonSchema = z
  .object({
    id: z.uuid(),
    email: z.string(),
    username: z.string(),
    verified: z.boolean(),
    isAdmin: z.boolean(),
    suspendedAt: z.string().nullable(),
    instance: z.object({ name: z.string(), state: z.string() }).nullable(),
    createdAt: z.string(),
  })
  .openapi("AdminPerson");

export const PeopleResponse = z.object({ people: z.array(PersonSchema) }).openapi("AdminPeople");
export const SuspendedResponse = z
  .object({
    person: PersonSchema,
    stopJob: JobSchema.optional().openapi({ description: "The job that stops the person's running instance" }),
  })
  .openapi("AdminSuspended");

export const FailedJobSchema = z
  .object({
    job: JobSchema,
    host: z.string(),
    username: z.string().nullable(),
    deadLettered: z.boolean().openapi({ description: "Its message used up its delivery attempts (the dead-letter queue)" }),
    redrivable: z.boolean().openapi({ description: "The agent never finished it: it may be run again" }),
  })
  .openapi("AdminFailedJob");
export const FailedJobsResponse = z.object({ jobs: z.array(FailedJobSchema) }).openapi("AdminFailedJobs");

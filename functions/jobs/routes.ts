import { createRoute } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import type { Job } from "../../shared/db/schema";
import { AppError } from "../../shared/errors";
import { getJob, isFinal } from "../../shared/jobs/store";
import { createRouter } from "../app";
import type { AuthUser } from "../env";
import { requireUser } from "../middleware/auth";
import { errorResponse, jsonResponse } from "../schemas";
import { JobIdParam, JobResponse, presentJob } from "./schemas";

const tags = ["jobs"];
const POLL_MS = 250;

/** The owner or an admin sees a job; anyone else gets the same 404 as for a missing one. */
async function visibleJob(db: Parameters<typeof getJob>[0], id: string, user: AuthUser): Promise<Job> {
  const job = await getJob(db, id);
  if (!job || (job.userId !== user.id && !user.isAdmin)) throw new AppError("not_found", "no such job");
  return job;
}

const getJobRoute = createRoute({
  method: "get",
  path: "/jobs/{id}",
  tags,
  summary: "A job with its steps and outcome",
  request: { params: JobIdParam },
  responses: {
    200: jsonResponse(JobResponse, "The job"),
    401: errorResponse("Not signed in"),
    404: errorResponse("No such job of yours"),
  },
});

const jobEventsRoute = createRoute({
  method: "get",
  path: "/jobs/{id}/events",
  tags,
  summary: "Server-sent events: `step` for each progress step, `status` on changes, `end` with the final job",
  request: { params: JobIdParam },
  responses: {
    200: { description: "text/event-stream until the job ends" },
    401: errorResponse("Not signed in"),
    404: errorResponse("No such job of yours"),
  },
});

export const jobRoutes = createRouter()
  .openapi(getJobRoute, async (c) => {
    const job = await visibleJob(c.get("services").db, c.req.valid("param").id, requireUser(c));
    return c.json({ job: presentJob(job) }, 200);
  })
  .openapi(jobEventsRoute, async (c) => {
    const { db } = c.get("services");
    const first = await visibleJob(db, c.req.valid("param").id, requireUser(c));
    // Resuming after a reconnect: Last-Event-ID is the index of the last step received.
    const resumeFrom = Number(c.req.header("last-event-id") ?? -1) + 1;
    return streamSSE(c, async (stream) => {
      let job: Job | undefined = first;
      let sent = Number.isSafeInteger(resumeFrom) && resumeFrom > 0 ? resumeFrom : 0;
      let status: string | undefined;
      let aborted = false;
      stream.onAbort(() => {
        aborted = true;
      });
      while (job && !aborted) {
        for (; sent < job.steps.length; sent++) {
          await stream.writeSSE({ event: "step", id: String(sent), data: JSON.stringify(job.steps[sent]) });
        }
        if (job.status !== status) {
          status = job.status;
          await stream.writeSSE({ event: "status", data: JSON.stringify({ status }) });
        }
        if (isFinal(job.status)) {
          await stream.writeSSE({ event: "end", data: JSON.stringify(presentJob(job)) });
          return;
        }
        await stream.sleep(POLL_MS);
        job = await getJob(db, job.id);
      }
    });
  });

import { createRoute } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import type { Job } from "../../shared/db/schema";
import { AppError } from "../core/errors";
import { getJob, isFinal } from "../core/jobs/store";
import { createRouter } from "../app";
import type { AuthUser } from "../env";
import { stillAuthenticated, userOnly } from "../middleware/auth";
import { errorResponse, jsonResponse } from "../schemas";
import { JobIdParam, JobResponse, presentJob } from "./schemas";
import { MAX_OPEN_STREAMS, SLOT_TTL_SECONDS, takeStreamSlot } from "./stream-slots";

const tags = ["jobs"];
const POLL_MS = 250;
// A logout or a revoked token ends the stream within this (plus one poll).
const RECHECK_AUTH_MS = 2_000;
const RENEW_SLOT_MS = (SLOT_TTL_SECONDS * 1000) / 3;

/** The owner or an admin sees a job; anyone else gets the same 404 as for a missing one. */
async function visibleJob(db: Parameters<typeof getJob>[0], id: string, user: AuthUser): Promise<Job> {
  const job = await getJob(db, id);
  if (!job || (job.userId !== user.id && !user.isAdmin)) throw new AppError("not_found", "no such job");
  return job;
}

const getJobRoute = createRoute({
  ...userOnly,
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
  ...userOnly,
  method: "get",
  path: "/jobs/{id}/events",
  tags,
  summary: "Server-sent events: `step` for each progress step, `status` on changes, `end` with the final job; `revoked` when the session or token ends",
  request: { params: JobIdParam },
  responses: {
    200: { description: "text/event-stream until the job ends" },
    401: errorResponse("Not signed in"),
    404: errorResponse("No such job of yours"),
    429: errorResponse(`${MAX_OPEN_STREAMS} event streams of yours are open already`),
  },
});

export const jobRoutes = createRouter()
  .openapi(getJobRoute, async (c) => {
    const job = await visibleJob(c.get("services").db, c.req.valid("param").id, c.get("user"));
    return c.json({ job: presentJob(job) }, 200);
  })
  .openapi(jobEventsRoute, async (c) => {
    const { db, kv } = c.get("services");
    const user = c.get("user");
    const first = await visibleJob(db, c.req.valid("param").id, user);
    const slot = await takeStreamSlot(kv, user.id);
    if (!slot) throw new AppError("rate_limited", `you have ${MAX_OPEN_STREAMS} event streams open, the most allowed; close one first`);
    // Resuming after a reconnect: Last-Event-ID is the index of the last step received.
    const resumeFrom = Number(c.req.header("last-event-id") ?? -1) + 1;
    return streamSSE(c, async (stream) => {
      let job: Job | undefined = first;
      let sent = Number.isSafeInteger(resumeFrom) && resumeFrom > 0 ? resumeFrom : 0;
      let status: string | undefined;
      let aborted = false;
      let checkedAt = Date.now();
      let renewedAt = checkedAt;
      stream.onAbort(() => {
        aborted = true;
      });
      try {
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
          const now = Date.now();
          if (now - checkedAt >= RECHECK_AUTH_MS) {
            checkedAt = now;
            if (!(await stillAuthenticated(c))) {
              await stream.writeSSE({ event: "revoked", data: JSON.stringify({ message: "signed out, or the API token was revoked" }) });
              return;
            }
          }
          if (now - renewedAt >= RENEW_SLOT_MS) {
            renewedAt = now;
            await slot.renew();
          }
          job = await getJob(db, job.id);
        }
      } finally {
        await slot.release();
      }
    });
  });

import { createRoute } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { JobIdParam, JobResponse, presentJob } from "../jobs/schemas";
import { adminOnly } from "../middleware/auth";
import { errorResponse, jsonResponse } from "../schemas";
import { FailedJobsResponse, PeopleQuery, PeopleResponse, PersonIdParam, PersonSchema, SuspendedResponse } from "./schemas";
import { findPeople, listFailedJobs, redrive, suspendPerson, unsuspendPerson } from "./service";
import { z } from "@hono/zod-openapi";

const tags = ["admin"];
const adminErrors = { 401: errorResponse("Not signed in"), 403: errorResponse("Administrators only") };

const peopleRoute = createRoute({
  ...adminOnly,
  method: "get",
  path: "/admin/people",
  tags,
  summary: "People whose e-mail address or username contains q, with their instance and whether they are suspended",
  request: { query: PeopleQuery },
  responses: { 200: jsonResponse(PeopleResponse, "People"), 400: errorResponse("q breaks a rule"), ...adminErrors },
});

const suspendRoute = createRoute({
  ...adminOnly,
  method: "post",
  path: "/admin/people/{id}/suspend",
  tags,
  summary: "Suspend a person: sign-in refused, sessions ended, API tokens revoked, a running instance stopped (its stop job)",
  request: { params: PersonIdParam },
  responses: {
    200: jsonResponse(SuspendedResponse, "Suspended"),
    404: errorResponse("No such person"),
    409: errorResponse("Already suspended, or yourself"),
    ...adminErrors,
  },
});

const unsuspendRoute = createRoute({
  ...adminOnly,
  method: "post",
  path: "/admin/people/{id}/unsuspend",
  tags,
  summary: "Let a suspended person sign in again (their instance stays stopped until they start it)",
  request: { params: PersonIdParam },
  responses: {
    200: jsonResponse(z.object({ person: PersonSchema }).openapi("AdminUnsuspended"), "Unsuspended"),
    404: errorResponse("No such person"),
    409: errorResponse("Not suspended"),
    ...adminErrors,
  },
});

const failedJobsRoute = createRoute({
  ...adminOnly,
  method: "get",
  path: "/admin/jobs/failed",
  tags,
  summary: "Failed jobs, the latest first, with their reasons; dead-lettered ones marked",
  responses: { 200: jsonResponse(FailedJobsResponse, "Failed jobs"), ...adminErrors },
});

const redriveRoute = createRoute({
  ...adminOnly,
  method: "post",
  path: "/admin/jobs/{id}/redrive",
  tags,
  summary: "Run a job again whose agent never finished it (dead-lettered, past its deadline, not queued): queued anew with a new deadline",
  request: { params: JobIdParam },
  responses: {
    202: jsonResponse(JobResponse, "Queued again"),
    404: errorResponse("No such job"),
    409: errorResponse("Not a job that can be redriven"),
    503: errorResponse("The queue is unavailable"),
    ...adminErrors,
  },
});

export const adminRoutes = createRouter()
  .openapi(peopleRoute, async (c) => c.json({ people: await findPeople(c.get("services"), c.req.valid("query").q ?? "") }, 200))
  .openapi(suspendRoute, async (c) => {
    const { person, stopJob } = await suspendPerson(c.get("services"), c.get("log"), c.get("user").id, c.req.valid("param").id);
    return c.json({ person, ...(stopJob ? { stopJob: presentJob(stopJob) } : {}) }, 200);
  })
  .openapi(unsuspendRoute, async (c) =>
    c.json({ person: await unsuspendPerson(c.get("services"), c.get("log"), c.get("user").id, c.req.valid("param").id) }, 200),
  )
  .openapi(failedJobsRoute, async (c) => c.json({ jobs: await listFailedJobs(c.get("services")) }, 200))
  .openapi(redriveRoute, async (c) => c.json({ job: presentJob(await redrive(c.get("services"), c.get("log"), c.req.valid("param").id)) }, 202));

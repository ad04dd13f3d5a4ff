import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { createRouter } from "../app";
import { personOf } from "../audit/record";
import { JobResponse, presentJob } from "../jobs/schemas";
import { type SignedInEnv, userOnly } from "../middleware/auth";
import { errorResponse, jsonBody, jsonResponse } from "../schemas";
import { presentInstance } from "./present";
import { DeployBody, InstanceSchema, RevealQuery } from "./schemas";
import { deployInstance, instanceAction, viewInstance, type InstanceAction } from "./service";

const tags = ["instances"];
const common = {
  401: errorResponse("Not signed in"),
  403: errorResponse("The e-mail address is not verified yet"),
};
const busy = errorResponse("Another job of your instance is running (error.jobId names it), or the instance is not in a state for this");
const queued = jsonResponse(JobResponse, "Queued: follow it at /api/v1/jobs/{id}/events");

const getRoute = createRoute({
  ...userOnly,
  method: "get",
  path: "/instance",
  tags,
  summary: "Your instance: state, address, login and links",
  request: { query: RevealQuery },
  responses: { 200: jsonResponse(InstanceSchema, "Your instance (state none when you have none)"), ...common },
});

const deployRoute = createRoute({
  ...userOnly,
  method: "post",
  path: "/instance",
  tags,
  summary: "Deploy your instance with this login",
  request: { body: jsonBody(DeployBody) },
  responses: {
    202: queued,
    400: errorResponse("A field breaks a rule"),
    409: errorResponse("You already have an instance, or its job is running (error.jobId)"),
    503: errorResponse("No host has room (code no_capacity), or the job queue is unavailable"),
    ...common,
  },
});

const actionRoute = (action: "start" | "stop") =>
  createRoute({
    ...userOnly,
    method: "post",
    path: `/instance/${action}`,
    tags,
    summary: action === "start" ? "Start your stopped instance (a no-op when it runs)" : "Stop your instance (a no-op when it is stopped)",
    responses: { 202: queued, 404: errorResponse("You have no instance"), 409: busy, ...common },
  });

const killRoute = createRoute({
  ...userOnly,
  method: "delete",
  path: "/instance",
  tags,
  summary: "Kill your instance: the container, its address and its names are removed",
  responses: { 202: queued, 404: errorResponse("You have no instance"), 409: busy, ...common },
});

export const instanceRoutes = createRouter()
  .openapi(getRoute, async (c) => {
    const user = c.get("user");
    const view = await viewInstance(c.get("services"), user.id, c.req.valid("query").reveal === "password");
    return c.json(presentInstance(view, c.get("services").config), 200);
  })
  .openapi(deployRoute, async (c) => {
    const user = c.get("user");
    const job = await deployInstance(c.get("services"), personOf(c), c.req.valid("json"));
    c.get("log").info("instance deploy queued", { jobId: job.id, userId: user.id });
    return c.json({ job: presentJob(job) }, 202);
  })
  .openapi(actionRoute("start"), (c) => act(c, "start"))
  .openapi(actionRoute("stop"), (c) => act(c, "stop"))
  .openapi(killRoute, (c) => act(c, "kill"));

async function act(c: Context<SignedInEnv>, action: InstanceAction) {
  const user = c.get("user");
  const job = await instanceAction(c.get("services"), personOf(c), action);
  c.get("log").info(`instance ${action} queued`, { jobId: job.id, userId: user.id });
  return c.json({ job: presentJob(job) }, 202);
}

import { createRoute } from "@hono/zod-openapi";
import { foreignKeyViolation } from "../../shared/db/errors";
import { AppError } from "../core/errors";
import { registerHost } from "./enrollment";
import { deleteHost, listHosts, setDraining } from "./store";
import { hostQueue } from "../core/jobs/queue-names";
import { submitJob } from "../core/jobs/submit";
import { commandSchemas, isCommandKind } from "../../shared/protocol/commands";
import { createRouter } from "../app";
import { configured } from "../configured";
import { validationError } from "../errors";
import { presentJob, JobResponse } from "../jobs/schemas";
import { adminOnly } from "../middleware/auth";
import { errorResponse, jsonBody, jsonResponse } from "../schemas";
import { presentHost } from "./present";
import { CreatedHostResponse, CreateHostBody, HostIdParam, HostListResponse, HostResponse, SubmitJobBody } from "./schemas";

const tags = ["hosts"];

const adminErrors = { 401: errorResponse("Not signed in"), 403: errorResponse("Administrators only") };

const createHostRoute = createRoute({
  ...adminOnly,
  method: "post",
  path: "/hosts",
  tags,
  summary: "Register an LXD host; answers a one-time enrollment token for its agent",
  request: { body: jsonBody(CreateHostBody) },
  responses: {
    201: jsonResponse(CreatedHostResponse, "Created"),
    400: errorResponse("A field breaks a rule"),
    409: errorResponse("Name taken"),
    ...adminErrors,
  },
});

const listHostsRoute = createRoute({
  ...adminOnly,
  method: "get",
  path: "/hosts",
  tags,
  summary: "Hosts with state, heartbeat, versions and facts",
  responses: { 200: jsonResponse(HostListResponse, "Hosts"), ...adminErrors },
});

const drainRoute = (action: "drain" | "undrain") =>
  createRoute({
    ...adminOnly,
    method: "post",
    path: `/hosts/{id}/${action}`,
    tags,
    summary: action === "drain" ? "Stop placing new work on the host" : "Place work on the host again",
    request: { params: HostIdParam },
    responses: { 200: jsonResponse(HostResponse, "The host"), 404: errorResponse("No such host"), ...adminErrors },
  });

const deleteHostRoute = createRoute({
  ...adminOnly,
  method: "delete",
  path: "/hosts/{id}",
  tags,
  summary: "Remove a host, its queue and its jobs; its agent's credential stops working",
  request: { params: HostIdParam },
  responses: { 204: { description: "Removed" }, 404: errorResponse("No such host"), ...adminErrors },
});

const submitJobRoute = createRoute({
  ...adminOnly,
  method: "post",
  path: "/hosts/{id}/jobs",
  tags,
  summary: "Submit a raw agent command to the host (operations and tests)",
  request: { params: HostIdParam, body: jsonBody(SubmitJobBody) },
  responses: {
    202: jsonResponse(JobResponse, "Queued"),
    400: errorResponse("Unknown kind or a payload field breaks a rule"),
    404: errorResponse("No such host"),
    503: errorResponse("The queue is unavailable"),
    ...adminErrors,
  },
});

export const hostRoutes = createRouter()
  .openapi(createHostRoute, async (c) => {
    const { db, config } = c.get("services");
    const { host, enrollmentToken } = await registerHost(db, c.req.valid("json"));
    c.get("log").info("host created", { hostId: host.id, name: host.name });
    return c.json({ host: presentHost(host, config.heartbeatMs), enrollmentToken }, 201);
  })
  .openapi(listHostsRoute, async (c) => {
    const { db, config } = c.get("services");
    return c.json({ hosts: (await listHosts(db)).map((h) => presentHost(h, config.heartbeatMs)) }, 200);
  })
  .openapi(drainRoute("drain"), async (c) => {
    const host = await setDraining(c.get("services").db, c.req.valid("param").id, true);
    if (!host) throw new AppError("not_found", "no such host");
    return c.json({ host: presentHost(host, c.get("services").config.heartbeatMs) }, 200);
  })
  .openapi(drainRoute("undrain"), async (c) => {
    const host = await setDraining(c.get("services").db, c.req.valid("param").id, false);
    if (!host) throw new AppError("not_found", "no such host");
    return c.json({ host: presentHost(host, c.get("services").config.heartbeatMs) }, 200);
  })
  .openapi(deleteHostRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { db, queue } = c.get("services");
    if (!(await deleteHost(db, id))) throw new AppError("not_found", "no such host");
    await queue?.remove(hostQueue(id));
    c.get("log").info("host deleted", { hostId: id });
    return c.body(null, 204);
  })
  .openapi(submitJobRoute, async (c) => {
    const admin = c.get("user");
    const { kind, payload, deadlineSeconds } = c.req.valid("json");
    if (!isCommandKind(kind)) throw new AppError("invalid", "kind: unknown command");
    const parsed = commandSchemas[kind].payload.safeParse(payload);
    if (!parsed.success) {
      const err = validationError(parsed.error);
      for (const issue of err.extra.issues ?? []) issue.path = `payload.${issue.path}`;
      throw new AppError("invalid", (err.extra.issues ?? []).map((i) => `${i.path}: ${i.message}`).join("; "), err.extra);
    }
    const { db, config, queue } = c.get("services");
    let job;
    try {
      job = await submitJob(db, configured(queue, "this deployment has no job queue (run the Node control plane)"), c.get("log"), {
        hostId: c.req.valid("param").id,
        userId: admin.id,
        kind,
        payload: parsed.data as Record<string, unknown>,
        deadlineSeconds: deadlineSeconds ?? config.jobDeadlineSeconds,
      });
    } catch (err) {
      // The job row refers to its host: an unknown host fails the insert, one statement fewer than a look-up first.
      if (foreignKeyViolation(err) !== undefined) throw new AppError("not_found", "no such host");
      throw err;
    }
    return c.json({ job: presentJob(job) }, 202);
  });

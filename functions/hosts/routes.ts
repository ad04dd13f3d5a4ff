import { createRoute } from "@hono/zod-openapi";
import { foreignKeyViolation } from "../../shared/db/errors";
import { AppError } from "../core/errors";
import { registerHost } from "./enrollment";
import { deleteHost, listHosts, setDraining } from "./store";
import { publishJob } from "../core/jobs/submit";
import { insertJob } from "../core/jobs/store";
import { audit, personOf } from "../audit/record";
import type { Context } from "hono";
import type { SignedInEnv } from "../middleware/auth";
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
    const { host, enrollmentToken } = await registerHost(db, c.req.valid("json"), personOf(c));
    c.get("log").info("host created", { hostId: host.id, name: host.name });
    return c.json({ host: presentHost(host, config.heartbeatMs), enrollmentToken }, 201);
  })
  .openapi(listHostsRoute, async (c) => {
    const { db, config } = c.get("services");
    return c.json({ hosts: (await listHosts(db)).map((h) => presentHost(h, config.heartbeatMs)) }, 200);
  })
  .openapi(drainRoute("drain"), (c) => drain(c, c.req.valid("param").id, true))
  .openapi(drainRoute("undrain"), (c) => drain(c, c.req.valid("param").id, false))
  .openapi(deleteHostRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { db } = c.get("services");
    await db.transaction(async (tx) => {
      if (!(await deleteHost(tx, id))) throw new AppError("not_found", "no such host");
      await audit(tx, personOf(c), { action: "host.delete", target: { type: "host", id } });
    });
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
    const ready = configured(queue, "this deployment has no job queue (run the Node control plane)");
    const hostId = c.req.valid("param").id;
    let job;
    try {
      job = await db.transaction(async (tx) => {
        const row = await insertJob(tx, {
          hostId,
          userId: admin.id,
          kind,
          payload: parsed.data as Record<string, unknown>,
          deadline: new Date(Date.now() + (deadlineSeconds ?? config.jobDeadlineSeconds) * 1000),
        });
        await audit(tx, personOf(c), { action: "host.job", target: { type: "host", id: hostId }, outcome: "pending", jobId: row.id, detail: { kind } });
        return row;
      });
    } catch (err) {
      // The job row refers to its host: an unknown host fails the insert, one statement fewer than a look-up first.
      if (foreignKeyViolation(err) !== undefined) throw new AppError("not_found", "no such host");
      throw err;
    }
    await publishJob(db, ready, c.get("log"), job);
    return c.json({ job: presentJob(job) }, 202);
  });

/** Drain or undrain a host: placement skips a draining one (its instances stay where they are). */
async function drain(c: Context<SignedInEnv>, id: string, draining: boolean) {
  const { db, config } = c.get("services");
  const host = await db.transaction(async (tx) => {
    const row = await setDraining(tx, id, draining);
    if (!row) throw new AppError("not_found", "no such host");
    await audit(tx, personOf(c), { action: draining ? "host.drain" : "host.undrain", target: { type: "host", id }, detail: { name: row.name } });
    return row;
  });
  c.get("log").info(draining ? "host draining" : "host undrained", { hostId: id });
  return c.json({ host: presentHost(host, config.heartbeatMs) }, 200);
}

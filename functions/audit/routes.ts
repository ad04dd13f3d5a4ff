import { createRoute } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { adminOnly, userOnly } from "../middleware/auth";
import { errorResponse, jsonResponse } from "../schemas";
import { presentAuditEvent } from "./present";
import { AdminAuditQuery, AuditPageSchema, OwnAuditQuery } from "./schemas";
import { auditPage } from "./service";

const tags = ["audit"];
const bad = errorResponse("A filter breaks a rule (a time that is not ISO 8601, a cursor this API did not give)");

const ownRoute = createRoute({
  ...userOnly,
  method: "get",
  path: "/audit",
  tags,
  summary: "Your audit log: what you (or your API tokens) changed, and what was changed of yours, newest first",
  request: { query: OwnAuditQuery },
  responses: { 200: jsonResponse(AuditPageSchema, "One page of events"), 400: bad, 401: errorResponse("Not signed in") },
});

const adminRoute = createRoute({
  ...adminOnly,
  method: "get",
  path: "/admin/audit",
  tags,
  summary: "Everyone's audit log, newest first, filtered by actor, action, target and time",
  request: { query: AdminAuditQuery },
  responses: { 200: jsonResponse(AuditPageSchema, "One page of events"), 400: bad, 401: errorResponse("Not signed in"), 403: errorResponse("Administrators only") },
});

export const auditRoutes = createRouter()
  .openapi(ownRoute, async (c) => {
    const me = c.get("user").id;
    const page = await auditPage(c.get("services"), c.req.valid("query"), me);
    return c.json({ events: page.events.map((e) => presentAuditEvent(e, me)), nextCursor: page.nextCursor }, 200);
  })
  .openapi(adminRoute, async (c) => {
    const page = await auditPage(c.get("services"), c.req.valid("query"));
    return c.json({ events: page.events.map((e) => presentAuditEvent(e)), nextCursor: page.nextCursor }, 200);
  });

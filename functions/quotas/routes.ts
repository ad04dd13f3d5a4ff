import { createRoute } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { personOf } from "../audit/record";
import { adminOnly, userOnly } from "../middleware/auth";
import { errorResponse, jsonBody, jsonResponse } from "../schemas";
import { quotasOf } from "./limits";
import { OwnQuotasResponse, PersonParam, PersonQuotasResponse, SetQuotasBody } from "./schemas";
import { personQuotas, setPersonQuotas } from "./service";

const tags = ["quotas"];
const adminErrors = { 401: errorResponse("Not signed in"), 403: errorResponse("Administrators only"), 404: errorResponse("No person with that id") };

const ownRoute = createRoute({
  ...userOnly,
  method: "get",
  path: "/quotas",
  tags,
  summary: "Your limits: instance size and how many devices, database users and databases, apps, domains and webhooks you may have",
  responses: { 200: jsonResponse(OwnQuotasResponse, "Your limits"), 401: errorResponse("Not signed in") },
});

const getRoute = createRoute({
  ...adminOnly,
  method: "get",
  path: "/admin/quotas/{userId}",
  tags,
  summary: "A person's limits, the operator's defaults and the person's overrides",
  request: { params: PersonParam },
  responses: { 200: jsonResponse(PersonQuotasResponse, "The person's quotas"), 400: errorResponse("Not an id"), ...adminErrors },
});

const setRoute = createRoute({
  ...adminOnly,
  method: "patch",
  path: "/admin/quotas/{userId}",
  tags,
  summary: "Set a person's overrides (a number), or give them the default again (null); keys left out stay",
  request: { params: PersonParam, body: jsonBody(SetQuotasBody) },
  responses: { 200: jsonResponse(PersonQuotasResponse, "The person's quotas now"), 400: errorResponse("An unknown key, or a value out of range"), ...adminErrors },
});

export const quotaRoutes = createRouter()
  .openapi(ownRoute, async (c) => {
    const s = c.get("services");
    return c.json({ quotas: await quotasOf(s.db, s.config, c.get("user").id) }, 200);
  })
  .openapi(getRoute, async (c) => c.json(await personQuotas(c.get("services"), c.req.valid("param").userId), 200))
  .openapi(setRoute, async (c) => {
    const { userId } = c.req.valid("param");
    const quotas = await setPersonQuotas(c.get("services"), personOf(c), userId, c.req.valid("json"));
    c.get("log").info("quotas changed", { userId, by: c.get("user").id });
    return c.json(quotas, 200);
  });

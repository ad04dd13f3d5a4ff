import { createRoute } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { userOnly } from "../middleware/auth";
import { errorResponse, jsonBody, jsonResponse } from "../schemas";
import { presentInstance } from "../instances/present";
import { InstanceSchema } from "../instances/schemas";
import { viewInstance } from "../instances/service";
import { IdleStopBody } from "./schemas";
import { chooseIdleStop } from "./service";

const idleStopRoute = createRoute({
  ...userOnly,
  method: "patch",
  path: "/instance",
  tags: ["instances"],
  summary: "Choose after how many idle minutes your instance is stopped (or never, where the operator allows it)",
  request: { body: jsonBody(IdleStopBody) },
  responses: {
    200: jsonResponse(InstanceSchema, "Your instance with the new choice (idle.setting, idle.minutes, idle.stopsAt)"),
    400: errorResponse("idleStop breaks a rule: longer than the operator allows, or never where it is not allowed"),
    401: errorResponse("Not signed in"),
    403: errorResponse("The e-mail address is not verified yet"),
    404: errorResponse("You have no instance"),
  },
});

export const idleRoutes = createRouter().openapi(idleStopRoute, async (c) => {
  const user = c.get("user");
  const s = c.get("services");
  const { idleStop } = c.req.valid("json");
  await chooseIdleStop(s, user.id, idleStop);
  c.get("log").info("instance idle stop chosen", { userId: user.id, idleStop });
  return c.json(presentInstance(await viewInstance(s, user.id, false), s.config), 200);
});

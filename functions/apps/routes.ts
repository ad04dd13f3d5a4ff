import { createRoute } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { userOnly } from "../middleware/auth";
import { errorResponse, jsonBody, jsonResponse } from "../schemas";
import { personOf } from "../audit/record";
import { AppListSchema, AppNameParam, AppResponse, CreateAppBody, UpdateAppBody } from "./schemas";
import { presentApp } from "./present";
import { changeApp, createApp, listApps, removeApp } from "./service";

const tags = ["apps"];
const common = { 401: errorResponse("Not signed in"), 403: errorResponse("The e-mail address is not verified yet") };

const listRoute = createRoute({
  ...userOnly,
  method: "get",
  path: "/apps",
  tags,
  summary: "Your published apps",
  responses: { 200: jsonResponse(AppListSchema, "Your apps"), ...common },
});

const createAppRoute = createRoute({
  ...userOnly,
  method: "post",
  path: "/apps",
  tags,
  summary: "Publish a port of your instance at <name>.<apps base> (up to your apps quota)",
  request: { body: jsonBody(CreateAppBody) },
  responses: {
    201: jsonResponse(AppResponse, "Published"),
    400: errorResponse("A field breaks a rule (name not a DNS label or reserved, port out of range)"),
    409: errorResponse("The name is taken (code conflict), you have as many apps as your quota allows (code limit), or you have no instance (code conflict)"),
    ...common,
  },
});

const updateRoute = createRoute({
  ...userOnly,
  method: "patch",
  path: "/apps/{name}",
  tags,
  summary: "Change an app's port or access",
  request: { params: AppNameParam, body: jsonBody(UpdateAppBody) },
  responses: { 200: jsonResponse(AppResponse, "Changed"), 400: errorResponse("A field breaks a rule"), 404: errorResponse("No app of yours with that name"), ...common },
});

const deleteRoute = createRoute({
  ...userOnly,
  method: "delete",
  path: "/apps/{name}",
  tags,
  summary: "Unpublish an app: its name is free again",
  request: { params: AppNameParam },
  responses: { 204: { description: "Removed" }, 404: errorResponse("No app of yours with that name"), ...common },
});

export const appRoutes = createRouter()
  .openapi(listRoute, async (c) => {
    const user = c.get("user");
    const { appsUrl } = c.get("services").config;
    return c.json({ apps: (await listApps(c.get("services"), user.id)).map((a) => presentApp(a, appsUrl)) }, 200);
  })
  .openapi(createAppRoute, async (c) => {
    const user = c.get("user");
    const app = await createApp(c.get("services"), personOf(c), c.req.valid("json"));
    c.get("log").info("app published", { app: app.name, port: app.port, access: app.access, userId: user.id });
    return c.json({ app: presentApp(app, c.get("services").config.appsUrl) }, 201);
  })
  .openapi(updateRoute, async (c) => {
    const user = c.get("user");
    const app = await changeApp(c.get("services"), personOf(c), c.req.valid("param").name, c.req.valid("json"));
    c.get("log").info("app changed", { app: app.name, port: app.port, access: app.access, userId: user.id });
    return c.json({ app: presentApp(app, c.get("services").config.appsUrl) }, 200);
  })
  .openapi(deleteRoute, async (c) => {
    const user = c.get("user");
    await removeApp(c.get("services"), personOf(c), c.req.valid("param").name);
    c.get("log").info("app removed", { app: c.req.valid("param").name, userId: user.id });
    return c.body(null, 204);
  });

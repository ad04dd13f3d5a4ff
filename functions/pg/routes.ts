import { createRoute } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { personOf } from "../audit/record";
import { adminOnly, userOnly } from "../middleware/auth";
import { errorResponse, jsonBody, jsonResponse } from "../schemas";
import { pgDrift } from "./drift";
import { presentConnection, presentCreatedDatabase, presentCreatedUser, presentDatabaseList, presentUserList } from "./present";
import {
  CreatedPgDatabaseSchema,
  CreatedPgUserSchema,
  CreatePgDatabaseBody,
  CreatePgUserBody,
  DriftListSchema,
  PgDatabaseListSchema,
  PgNameParam,
  PgUserListSchema,
  PgUserPasswordSchema,
} from "./schemas";
import { connectionUri, createDatabase, createUser, deleteDatabase, deleteUser, listDatabases, listUsers, pgContext, revealPassword, step } from "./service";

const tags = ["postgres"];
const common = {
  401: errorResponse("Not signed in"),
  503: errorResponse("Managed PostgreSQL is not configured (PG_SERVICE_URL) or the cluster cannot be reached"),
};

const listUsersRoute = createRoute({
  ...userOnly,
  method: "get",
  path: "/pg/users",
  tags,
  summary: "Your database users, their databases, and where to connect",
  responses: { 200: jsonResponse(PgUserListSchema, "Database users"), ...common },
});

const createUserRoute = createRoute({
  ...userOnly,
  method: "post",
  path: "/pg/users",
  tags,
  summary: "Create a database user (a login role); answers its password",
  request: { body: jsonBody(CreatePgUserBody) },
  responses: {
    201: jsonResponse(CreatedPgUserSchema, "Created"),
    400: errorResponse("A field breaks a rule, or the name is reserved"),
    409: errorResponse("The name is taken (code conflict), or you have the most allowed (code limit)"),
    ...common,
  },
});

const passwordRoute = createRoute({
  ...userOnly,
  method: "get",
  path: "/pg/users/{name}/password",
  tags,
  summary: "The password of one of your database users",
  request: { params: PgNameParam },
  responses: { 200: jsonResponse(PgUserPasswordSchema, "The password"), 404: errorResponse("No such database user of yours"), ...common },
});

const deleteUserRoute = createRoute({
  ...userOnly,
  method: "delete",
  path: "/pg/users/{name}",
  tags,
  summary: "Delete a database user, its databases (ending their sessions) and its sessions",
  request: { params: PgNameParam },
  responses: { 204: { description: "Deleted" }, 404: errorResponse("No such database user of yours"), ...common },
});

const listDatabasesRoute = createRoute({
  ...userOnly,
  method: "get",
  path: "/pg/databases",
  tags,
  summary: "Your databases and where to connect",
  responses: { 200: jsonResponse(PgDatabaseListSchema, "Databases"), ...common },
});

const createDatabaseRoute = createRoute({
  ...userOnly,
  method: "post",
  path: "/pg/databases",
  tags,
  summary: "Create a database owned by one of your database users; only its owner may connect",
  request: { body: jsonBody(CreatePgDatabaseBody) },
  responses: {
    201: jsonResponse(CreatedPgDatabaseSchema, "Created"),
    400: errorResponse("A field breaks a rule, or owner is not one of your database users"),
    409: errorResponse("The name is taken (code conflict), or you have the most allowed (code limit)"),
    ...common,
  },
});

const deleteDatabaseRoute = createRoute({
  ...userOnly,
  method: "delete",
  path: "/pg/databases/{name}",
  tags,
  summary: "Delete a database, ending its sessions",
  request: { params: PgNameParam },
  responses: { 204: { description: "Deleted" }, 404: errorResponse("No such database of yours"), ...common },
});

const driftRoute = createRoute({
  ...adminOnly,
  method: "get",
  path: "/pg/drift",
  tags,
  summary: "Roles and databases that exist on one side only (KWS's rows or the cluster), or disagree",
  responses: { 200: jsonResponse(DriftListSchema, "Drift"), 403: errorResponse("Administrators only"), ...common },
});

export const pgRoutes = createRouter()
  .openapi(listUsersRoute, async (c) => c.json(presentUserList(await listUsers(c.get("services"), c.get("user").id)), 200))
  .openapi(createUserRoute, async (c) => {
    const created = await createUser(c.get("services"), c.get("log"), personOf(c), c.req.valid("json"));
    return c.json(presentCreatedUser(created), 201);
  })
  .openapi(passwordRoute, async (c) => {
    const { name } = c.req.valid("param");
    const { password, service } = await revealPassword(c.get("services"), c.get("user").id, name);
    return c.json({ ...presentConnection(service), name, password, connectionUri: connectionUri(service, name, password) }, 200);
  })
  .openapi(deleteUserRoute, async (c) => {
    await deleteUser(c.get("services"), c.get("log"), personOf(c), c.req.valid("param").name);
    return c.body(null, 204);
  })
  .openapi(listDatabasesRoute, async (c) => c.json(presentDatabaseList(await listDatabases(c.get("services"), c.get("user").id)), 200))
  .openapi(createDatabaseRoute, async (c) => {
    const created = await createDatabase(c.get("services"), c.get("log"), personOf(c), c.req.valid("json"));
    return c.json(presentCreatedDatabase(created), 201);
  })
  .openapi(deleteDatabaseRoute, async (c) => {
    await deleteDatabase(c.get("services"), c.get("log"), personOf(c), c.req.valid("param").name);
    return c.body(null, 204);
  })
  .openapi(driftRoute, async (c) => {
    const services = c.get("services");
    const { cluster } = pgContext(services);
    return c.json({ drift: await step(c.get("log"), pgDrift(services.db, cluster)) }, 200);
  });

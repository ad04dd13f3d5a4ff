import { createRoute } from "@hono/zod-openapi";
import { createRouter, MAX_BODY_BYTES } from "../app";
import { userOnly } from "../middleware/auth";
import { errorResponse, jsonBody, jsonResponse } from "../schemas";
import { presentHook, presentRun } from "./present";
import { CreatedHookSchema, CreateHookBody, DeliveryAnswerSchema, HookIdParam, HookListSchema, HookRunListSchema, MAX_HOOKS, RUNS_PER_HOUR } from "./schemas";
import { createHook, listHooks, listRuns, receiveDelivery, removeHook } from "./service";

const tags = ["hooks"];
const common = { 401: errorResponse("Not signed in"), 403: errorResponse("The e-mail address is not verified yet") };
const missing = errorResponse("No hook of yours with that id");

const listRoute = createRoute({
  ...userOnly,
  method: "get",
  path: "/hooks",
  tags,
  summary: "Your deploy hooks",
  responses: { 200: jsonResponse(HookListSchema, "Your hooks (without their secrets)"), ...common },
});

const createHookRoute = createRoute({
  ...userOnly,
  method: "post",
  path: "/hooks",
  tags,
  summary: `Add a deploy hook: a signed request to its URL runs the command in your instance (at most ${MAX_HOOKS})`,
  request: { body: jsonBody(CreateHookBody) },
  responses: {
    201: jsonResponse(CreatedHookSchema, "Added: give the provider its URL and secret (the secret is shown this once)"),
    400: errorResponse("A field breaks a rule"),
    409: errorResponse(`You have a hook of that name (code conflict), or ${MAX_HOOKS} hooks (code limit)`),
    ...common,
  },
});

const deleteRoute = createRoute({
  ...userOnly,
  method: "delete",
  path: "/hooks/{id}",
  tags,
  summary: "Remove a hook and its runs",
  request: { params: HookIdParam },
  responses: { 204: { description: "Removed" }, 404: missing, ...common },
});

const runsRoute = createRoute({
  ...userOnly,
  method: "get",
  path: "/hooks/{id}/runs",
  tags,
  summary: "A hook's latest runs, newest first: status, exit code, the end of the output",
  request: { params: HookIdParam },
  responses: { 200: jsonResponse(HookRunListSchema, "The runs"), 404: missing, ...common },
});

export const hookRoutes = createRouter()
  .openapi(listRoute, async (c) => {
    const s = c.get("services");
    return c.json({ hooks: (await listHooks(s, c.get("user").id)).map((h) => presentHook(h, s.config.publicUrl)) }, 200);
  })
  .openapi(createHookRoute, async (c) => {
    const s = c.get("services");
    const user = c.get("user");
    const { hook, secret } = await createHook(s, user.id, c.req.valid("json"));
    c.get("log").info("hook added", { hookId: hook.id, provider: hook.provider, userId: user.id });
    return c.json({ hook: { ...presentHook(hook, s.config.publicUrl), secret } }, 201);
  })
  .openapi(deleteRoute, async (c) => {
    const user = c.get("user");
    await removeHook(c.get("services"), user.id, c.req.valid("param").id);
    c.get("log").info("hook removed", { hookId: c.req.valid("param").id, userId: user.id });
    return c.body(null, 204);
  })
  .openapi(runsRoute, async (c) => c.json({ runs: (await listRuns(c.get("services"), c.get("user").id, c.req.valid("param").id)).map(presentRun) }, 200));

const deliveryRoute = createRoute({
  method: "post",
  path: "/hooks/v1/{id}",
  tags,
  summary: "A provider's delivery to a hook (no session: the signature is the credential)",
  description:
    "GitHub: X-Hub-Signature-256 (HMAC-SHA256 of the body) and X-GitHub-Delivery; GitLab: X-Gitlab-Token and X-Gitlab-Event-UUID; standard: webhook-id, webhook-timestamp (within 5 minutes) and webhook-signature.",
  request: { params: HookIdParam },
  responses: {
    200: jsonResponse(DeliveryAnswerSchema, "A GitHub ping, or a delivery id seen in the last 24 hours (its run): nothing runs"),
    202: jsonResponse(DeliveryAnswerSchema, "The run that starts now, waits for the running one, or that this delivery joined"),
    400: errorResponse("The delivery id header is missing"),
    401: errorResponse("The signature (or token) is missing, wrong or too old: nothing runs"),
    404: errorResponse("No hook with that id"),
    409: errorResponse("The hook's owner has no running instance"),
    413: errorResponse(`The body is over ${MAX_BODY_BYTES} bytes`),
    429: errorResponse(`The hook started ${RUNS_PER_HOUR} runs in the last hour (Retry-After says when it may again)`),
  },
});

/** Mounted at the root: the hook URLs are `<PUBLIC_URL>/hooks/v1/<id>`. */
export const hookDeliveryRoutes = createRouter().openapi(deliveryRoute, async (c) => {
  const body = Buffer.from(await c.req.arrayBuffer());
  const { status, answer } = await receiveDelivery(c.get("services"), c.req.valid("param").id, { header: (name) => c.req.header(name), body }, c.get("log"));
  return c.json(answer, status);
});

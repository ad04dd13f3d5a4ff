import { createRoute } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { userOnly } from "../middleware/auth";
import { errorResponse, jsonBody, jsonResponse } from "../schemas";
import { presentAttempt, presentDelivery, presentWebhook } from "./present";
import {
  CreateWebhookBody,
  DeliveryLogSchema,
  DeliveryParam,
  DeliveryResponse,
  UpdateWebhookBody,
  WebhookListSchema,
  WebhookParam,
  WebhookResponse,
  WebhookWithSecret,
} from "./schemas";
import { changeWebhook, createWebhook, deliveryLog, listWebhooks, removeWebhook, retryWebhookDelivery, rotateSecret, testWebhook } from "./service";

const tags = ["webhooks"];
const common = { 401: errorResponse("Not signed in"), 403: errorResponse("The e-mail address is not verified yet") };
const missing = errorResponse("No webhook endpoint of yours with that id");

const listRoute = createRoute({
  ...userOnly,
  method: "get",
  path: "/webhooks",
  tags,
  summary: "Your webhook endpoints",
  responses: { 200: jsonResponse(WebhookListSchema, "Your endpoints"), ...common },
});

const createWebhookRoute = createRoute({
  ...userOnly,
  method: "post",
  path: "/webhooks",
  tags,
  summary: `Register an endpoint for signed events (Standard Webhooks; as many as your webhooks quota, 5 by default); its secret is shown this once`,
  request: { body: jsonBody(CreateWebhookBody) },
  responses: {
    201: jsonResponse(WebhookWithSecret, "Registered, with its secret"),
    400: errorResponse("A field breaks a rule (the url must reach a public address unless KWS_WEBHOOK_ALLOW_PRIVATE)"),
    409: errorResponse("Your webhooks quota is used up (code limit)"),
    ...common,
  },
});

const updateRoute = createRoute({
  ...userOnly,
  method: "patch",
  path: "/webhooks/{id}",
  tags,
  summary: "Change an endpoint's url, events, description, or enable/disable it",
  request: { params: WebhookParam, body: jsonBody(UpdateWebhookBody) },
  responses: { 200: jsonResponse(WebhookResponse, "Changed"), 400: errorResponse("A field breaks a rule"), 404: missing, ...common },
});

const deleteRoute = createRoute({
  ...userOnly,
  method: "delete",
  path: "/webhooks/{id}",
  tags,
  summary: "Remove an endpoint (and its delivery log)",
  request: { params: WebhookParam },
  responses: { 204: { description: "Removed" }, 404: missing, ...common },
});

const rotateRoute = createRoute({
  ...userOnly,
  method: "post",
  path: "/webhooks/{id}/rotate",
  tags,
  summary: "A new secret (shown this once); the previous one keeps signing beside it for 24 h",
  request: { params: WebhookParam },
  responses: { 200: jsonResponse(WebhookWithSecret, "Rotated, with the new secret"), 404: missing, ...common },
});

const testRoute = createRoute({
  ...userOnly,
  method: "post",
  path: "/webhooks/{id}/test",
  tags,
  summary: "Send a webhook.test event to this endpoint",
  request: { params: WebhookParam },
  responses: { 202: jsonResponse(DeliveryResponse, "Queued: it is sent at once"), 404: missing, 409: errorResponse("The endpoint is disabled"), ...common },
});

const deliveriesRoute = createRoute({
  ...userOnly,
  method: "get",
  path: "/webhooks/{id}/deliveries",
  tags,
  summary: "The endpoint's last 100 attempts, newest first",
  request: { params: WebhookParam },
  responses: { 200: jsonResponse(DeliveryLogSchema, "The delivery log"), 404: missing, ...common },
});

const retryRoute = createRoute({
  ...userOnly,
  method: "post",
  path: "/webhooks/{id}/deliveries/{deliveryId}/retry",
  tags,
  summary: "Send a delivery again now (one more attempt, the same webhook-id)",
  request: { params: DeliveryParam },
  responses: { 202: jsonResponse(DeliveryResponse, "Due now"), 404: errorResponse("No such endpoint or delivery of yours"), 409: errorResponse("The endpoint is disabled"), ...common },
});

export const webhookRoutes = createRouter()
  .openapi(listRoute, async (c) => c.json({ webhooks: (await listWebhooks(c.get("services"), c.get("user").id)).map((e) => presentWebhook(e)) }, 200))
  .openapi(createWebhookRoute, async (c) => {
    const user = c.get("user");
    const { endpoint, secret } = await createWebhook(c.get("services"), user.id, c.req.valid("json"));
    c.get("log").info("webhook endpoint registered", { webhookEndpointId: endpoint.id, userId: user.id, events: endpoint.events });
    return c.json({ webhook: presentWebhook(endpoint), secret }, 201);
  })
  .openapi(updateRoute, async (c) => {
    const user = c.get("user");
    const endpoint = await changeWebhook(c.get("services"), user.id, c.req.valid("param").id, c.req.valid("json"));
    c.get("log").info("webhook endpoint changed", { webhookEndpointId: endpoint.id, userId: user.id, enabled: endpoint.enabled });
    return c.json({ webhook: presentWebhook(endpoint) }, 200);
  })
  .openapi(deleteRoute, async (c) => {
    const user = c.get("user");
    await removeWebhook(c.get("services"), user.id, c.req.valid("param").id);
    c.get("log").info("webhook endpoint removed", { webhookEndpointId: c.req.valid("param").id, userId: user.id });
    return c.body(null, 204);
  })
  .openapi(rotateRoute, async (c) => {
    const user = c.get("user");
    const { endpoint, secret } = await rotateSecret(c.get("services"), user.id, c.req.valid("param").id);
    c.get("log").info("webhook secret rotated", { webhookEndpointId: endpoint.id, userId: user.id });
    return c.json({ webhook: presentWebhook(endpoint), secret }, 200);
  })
  .openapi(testRoute, async (c) => {
    const delivery = await testWebhook(c.get("services"), c.get("user").id, c.req.valid("param").id);
    return c.json({ delivery: presentDelivery(delivery) }, 202);
  })
  .openapi(deliveriesRoute, async (c) => {
    const attempts = await deliveryLog(c.get("services"), c.get("user").id, c.req.valid("param").id);
    return c.json({ attempts: attempts.map(presentAttempt) }, 200);
  })
  .openapi(retryRoute, async (c) => {
    const { id, deliveryId } = c.req.valid("param");
    const delivery = await retryWebhookDelivery(c.get("services"), c.get("user").id, id, deliveryId);
    c.get("log").info("webhook delivery retried", { deliveryId, userId: c.get("user").id });
    return c.json({ delivery: presentDelivery(delivery) }, 202);
  });

import { actorOf } from "../audit/record";
import { createRoute } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { clientIp } from "../middleware/client-ip";
import { errorResponse, jsonBody, jsonResponse } from "../schemas";
import { presentToken } from "../tokens/present";
import { CODE_TTL_SECONDS, DeviceCodeBody, DeviceCodeSchema, DeviceTokenBody, DeviceTokenSchema, POLL_INTERVAL_SECONDS } from "./schemas";
import { pollDeviceLogin, startDeviceLogin } from "./service";

const tags = ["device login"];

const codeRoute = createRoute({
  method: "post",
  path: "/device/code",
  tags,
  summary: `Start a device sign-in (RFC 8628): a code for the person to approve at verification_uri within ${CODE_TTL_SECONDS / 60} minutes`,
  request: { body: jsonBody(DeviceCodeBody) },
  responses: {
    200: jsonResponse(DeviceCodeSchema, "Show user_code and verification_uri; poll /device/token with device_code"),
    400: errorResponse("A field breaks a rule"),
    429: errorResponse("Too many codes asked for from this address"),
  },
});

const tokenRoute = createRoute({
  method: "post",
  path: "/device/token",
  tags,
  summary: `Poll for the API token of a device sign-in (every ${POLL_INTERVAL_SECONDS} s)`,
  request: { body: jsonBody(DeviceTokenBody) },
  responses: {
    200: jsonResponse(DeviceTokenSchema, "Approved: the API token, answered once"),
    400: errorResponse(
      "authorization_pending (not decided yet: poll again), slow_down (polled too soon: add 5 s to the interval), access_denied (denied), expired_token (expired or used), invalid (not a code KWS issued)",
    ),
  },
});

export const cliLoginRoutes = createRouter()
  .openapi(codeRoute, async (c) => c.json(await startDeviceLogin(c.get("services"), c.req.valid("json").client_name, clientIp(c)), 200))
  .openapi(tokenRoute, async (c) => {
    const { token, secret } = await pollDeviceLogin(c.get("services"), c.req.valid("json").device_code, c.get("log"), actorOf(c));
    return c.json({ access_token: secret, token_type: "bearer" as const, token: presentToken(token) }, 200);
  });

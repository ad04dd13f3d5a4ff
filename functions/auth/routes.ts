import { createRoute } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { actorOf } from "../audit/record";
import { clientIp } from "../middleware/client-ip";
import { toAuthUser, userOnly } from "../middleware/auth";
import { errorResponse, jsonBody, jsonResponse } from "../schemas";
import { endSession, setSessionCookie } from "./cookies";
import {
  LoginBody,
  MessageResponse,
  RegisterBody,
  RegisteredSchema,
  ResendBody,
  UserResponse,
  VerifyBody,
  VerifyQuery,
} from "./schemas";
import { login, register, resendVerification, verifyEmail } from "./service";

const tags = ["auth"];

const registerRoute = createRoute({
  method: "post",
  path: "/auth/register",
  tags,
  summary: "Create an account and send the verification mail",
  request: { body: jsonBody(RegisterBody) },
  responses: {
    201: jsonResponse(RegisteredSchema, "Account created, not yet verified"),
    400: errorResponse("A field breaks a rule"),
    409: errorResponse("E-mail or username taken"),
    413: errorResponse("Body over 64 KiB"),
    429: errorResponse("Too many sign-ups from this address"),
  },
});

const verifyRoute = createRoute({
  method: "post",
  path: "/auth/verify",
  tags,
  summary: "Verify an e-mail address with the mailed link's token",
  request: { body: jsonBody(VerifyBody) },
  responses: {
    200: jsonResponse(MessageResponse, "Verified"),
    400: errorResponse("No token"),
    404: errorResponse("Unknown token"),
    410: errorResponse("Token used or expired, or its account was replaced or deleted"),
  },
});

// Links mailed before verification needed a confirmation pointed here; a GET never verifies.
const verifyLinkRoute = createRoute({
  method: "get",
  path: "/auth/verify",
  tags,
  summary: "Older verification links: sent on to the page that asks before verifying",
  request: { query: VerifyQuery },
  responses: {
    302: { description: "To /kws_verify with the same token" },
    400: errorResponse("No token"),
  },
});

const resendRoute = createRoute({
  method: "post",
  path: "/auth/resend",
  tags,
  summary: "Send a fresh verification link (answers the same for every address)",
  request: { body: jsonBody(ResendBody) },
  responses: {
    202: jsonResponse(MessageResponse, "Accepted"),
    400: errorResponse("Invalid e-mail"),
    429: errorResponse("Too many requests"),
  },
});

const loginRoute = createRoute({
  method: "post",
  path: "/auth/login",
  tags,
  summary: "Sign in; sets the kws_session cookie",
  request: { body: jsonBody(LoginBody) },
  responses: {
    200: jsonResponse(UserResponse, "Signed in"),
    400: errorResponse("A field breaks a rule"),
    401: errorResponse("Wrong username or password"),
    403: errorResponse("E-mail not verified"),
    429: errorResponse("Too many failed attempts"),
  },
});

const logoutRoute = createRoute({
  method: "post",
  path: "/auth/logout",
  tags,
  summary: "End the session",
  responses: { 204: { description: "Signed out" } },
});

const meRoute = createRoute({
  ...userOnly,
  method: "get",
  path: "/me",
  tags,
  summary: "The signed-in user",
  responses: {
    200: jsonResponse(UserResponse, "The user"),
    401: errorResponse("No valid session or token"),
  },
});

export const authRoutes = createRouter()
  .openapi(registerRoute, async (c) => {
    const user = await register(c.get("services"), c.get("log"), c.req.valid("json"), actorOf(c));
    return c.json(
      { user: { id: user.id, email: user.email, username: user.username, verified: false } },
      201,
    );
  })
  .openapi(verifyRoute, async (c) => {
    await verifyEmail(c.get("services"), c.get("log"), c.req.valid("json").token, actorOf(c));
    return c.json({ message: "e-mail address verified; you can sign in" }, 200);
  })
  .openapi(verifyLinkRoute, (c) => c.redirect(`/kws_verify?token=${encodeURIComponent(c.req.valid("query").token)}`, 302))
  .openapi(resendRoute, async (c) => {
    await resendVerification(c.get("services"), c.get("log"), c.req.valid("json").email, clientIp(c));
    return c.json({ message: "if that address has an unverified account, a new link is on its way" }, 202);
  })
  .openapi(loginRoute, async (c) => {
    const { user, sessionToken, hashMs } = await login(c.get("services"), c.get("log"), c.req.valid("json"), clientIp(c));
    setSessionCookie(c, sessionToken);
    // How much of the answer's time was the password hash (the rest is ours): for benchmarks and
    // the browser's network panel. Only a successful login carries it.
    c.header("Server-Timing", `hash;dur=${hashMs.toFixed(2)}`);
    return c.json({ user: toAuthUser(user, c.get("services").config.admins) }, 200);
  })
  .openapi(logoutRoute, async (c) => {
    await endSession(c);
    return c.body(null, 204);
  })
  .openapi(meRoute, async (c) => c.json({ user: c.get("user") }, 200));

import { createRoute } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { MessageResponse } from "../auth/schemas";
import { actorOf } from "../audit/record";
import { clientIp } from "../middleware/client-ip";
import { userOnly } from "../middleware/auth";
import { errorResponse, jsonBody, jsonResponse } from "../schemas";
import { changeOwnPassword, deleteOwnAccount, signOutEverywhere } from "./requests";
import { ChangeEmailBody, ChangePasswordBody, ConfirmEmailBody, DeleteAccountBody, PasswordResetBody, PasswordResetConfirmBody } from "./schemas";
import { confirmEmailChange, confirmPasswordReset, requestEmailChange, requestPasswordReset } from "./service";

const tags = ["account"];
const signedIn = { 401: errorResponse("Not signed in") };
const wrongPassword = errorResponse("The password is not the account's (error.issues names the field)");

const resetRoute = createRoute({
  method: "post",
  path: "/auth/password-reset",
  tags,
  summary: "Mail a password reset link (answers the same for every address)",
  request: { body: jsonBody(PasswordResetBody) },
  responses: {
    202: jsonResponse(MessageResponse, "Accepted"),
    400: errorResponse("Invalid e-mail"),
    429: errorResponse("Too many requests from this client or for this address"),
  },
});

const resetConfirmRoute = createRoute({
  method: "post",
  path: "/auth/password-reset/confirm",
  tags,
  summary: "Set a new password with the link's token; ends every session of the person",
  request: { body: jsonBody(PasswordResetConfirmBody) },
  responses: {
    200: jsonResponse(MessageResponse, "Password set"),
    400: errorResponse("A field breaks a rule"),
    404: errorResponse("Unknown token"),
    410: errorResponse("Token used or expired"),
  },
});

const logoutAllRoute = createRoute({
  ...userOnly,
  method: "post",
  path: "/auth/logout-all",
  tags,
  summary: "End every session of the person, this one included (API tokens stay)",
  responses: { 204: { description: "Signed out everywhere" }, ...signedIn },
});

const changePasswordRoute = createRoute({
  ...userOnly,
  method: "post",
  path: "/account/password",
  tags,
  summary: "Change the password; ends the person's other sessions and renews this one",
  request: { body: jsonBody(ChangePasswordBody) },
  responses: {
    200: jsonResponse(MessageResponse, "Changed"),
    400: errorResponse("The new password breaks a rule"),
    403: wrongPassword,
    429: errorResponse("Too many password attempts"),
    ...signedIn,
  },
});

const changeEmailRoute = createRoute({
  ...userOnly,
  method: "post",
  path: "/account/email",
  tags,
  summary: "Ask to change the e-mail address: a link goes to the new address, nothing changes until it is confirmed",
  request: { body: jsonBody(ChangeEmailBody) },
  responses: {
    202: jsonResponse(MessageResponse, "Link sent"),
    400: errorResponse("Invalid e-mail, or already the account's"),
    403: wrongPassword,
    409: errorResponse("The address is taken"),
    429: errorResponse("Too many requests"),
    ...signedIn,
  },
});

const confirmEmailRoute = createRoute({
  method: "post",
  path: "/account/email/confirm",
  tags,
  summary: "Apply an e-mail change with the link's token; the old address gets a notice",
  request: { body: jsonBody(ConfirmEmailBody) },
  responses: {
    200: jsonResponse(MessageResponse, "Changed"),
    404: errorResponse("Unknown token"),
    409: errorResponse("The address was taken meanwhile"),
    410: errorResponse("Token used or expired, or the account changed since"),
  },
});

const deleteRoute = createRoute({
  ...userOnly,
  method: "delete",
  path: "/account",
  tags,
  summary: "Delete the account: instance, devices, PostgreSQL users and databases, tokens and sessions",
  request: { body: jsonBody(DeleteAccountBody) },
  responses: {
    204: { description: "Deleted" },
    403: wrongPassword,
    409: errorResponse("Something was created meanwhile; try again"),
    503: errorResponse("A resource could not be removed yet (error.jobId names its job); the account is kept, try again"),
    ...signedIn,
  },
});

export const accountRoutes = createRouter()
  .openapi(resetRoute, async (c) => {
    await requestPasswordReset(c.get("services"), c.get("log"), c.req.valid("json").email, clientIp(c));
    return c.json({ message: "if that address has an account, a reset link is on its way" }, 202);
  })
  .openapi(resetConfirmRoute, async (c) => {
    const { token, password } = c.req.valid("json");
    await confirmPasswordReset(c.get("services"), c.get("log"), token, password, actorOf(c));
    return c.json({ message: "password set; every session has ended, sign in with the new password" }, 200);
  })
  .openapi(logoutAllRoute, async (c) => {
    await signOutEverywhere(c, c.get("user"));
    return c.body(null, 204);
  })
  .openapi(changePasswordRoute, async (c) => {
    await changeOwnPassword(c, c.get("user"), c.req.valid("json"));
    return c.json({ message: "password changed; your other sessions have ended" }, 200);
  })
  .openapi(changeEmailRoute, async (c) => {
    await requestEmailChange(c.get("services"), c.get("log"), c.get("user").id, c.req.valid("json"));
    return c.json({ message: "a confirmation link was sent to the new address; the change applies once it is confirmed" }, 202);
  })
  .openapi(confirmEmailRoute, async (c) => {
    const email = await confirmEmailChange(c.get("services"), c.get("log"), c.req.valid("json").token, actorOf(c));
    return c.json({ message: `your e-mail address is now ${email}` }, 200);
  })
  .openapi(deleteRoute, async (c) => {
    await deleteOwnAccount(c, c.get("user"), c.req.valid("json").password);
    return c.body(null, 204);
  });

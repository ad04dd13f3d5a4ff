import { createRoute } from "@hono/zod-openapi";
import { hashToken } from "../../shared/crypto/tokens";
import { AppError } from "../core/errors";
import { createRouter } from "../app";
import { audit, personOf } from "../audit/record";
import { bearerToken, sessionOnly, userOnly } from "../middleware/auth";
import { errorResponse, jsonBody, jsonResponse } from "../schemas";
import { presentToken } from "./present";
import { listTokens, revokeToken, revokeTokenByHash } from "./queries";
import { issueToken } from "./service";
import { CreateTokenBody, CreatedTokenSchema, TokenIdParam, TokenListSchema } from "./schemas";

const tags = ["tokens"];

const createTokenRoute = createRoute({
  // A leaked token must not be able to outlive its own revocation by minting successors.
  ...sessionOnly("an API token cannot create tokens: sign in to create one"),
  method: "post",
  path: "/tokens",
  tags,
  summary: "Create a personal API token (the secret is shown once)",
  request: { body: jsonBody(CreateTokenBody) },
  responses: {
    201: jsonResponse(CreatedTokenSchema, "Created"),
    400: errorResponse("A field breaks a rule"),
    401: errorResponse("Not signed in"),
    403: errorResponse("Sent with an API token: tokens are made from a signed-in session"),
  },
});

const listTokensRoute = createRoute({
  ...userOnly,
  method: "get",
  path: "/tokens",
  tags,
  summary: "The caller's live API tokens, without secrets",
  responses: { 200: jsonResponse(TokenListSchema, "Tokens"), 401: errorResponse("Not signed in") },
});

const revokeCurrentRoute = createRoute({
  ...userOnly,
  method: "delete",
  path: "/tokens/current",
  tags,
  summary: "Revoke the API token this request is sent with (a CLI signing out)",
  responses: {
    204: { description: "Revoked" },
    400: errorResponse("Sent without an API token (a session ends with POST /auth/logout)"),
    401: errorResponse("Not signed in"),
  },
});

const revokeTokenRoute = createRoute({
  ...userOnly,
  method: "delete",
  path: "/tokens/{id}",
  tags,
  summary: "Revoke an API token",
  request: { params: TokenIdParam },
  responses: {
    204: { description: "Revoked" },
    401: errorResponse("Not signed in"),
    404: errorResponse("No such token of yours"),
  },
});

export const tokenRoutes = createRouter()
  .openapi(createTokenRoute, async (c) => {
    const user = c.get("user");
    const { token, secret } = await issueToken(c.get("services").db, { userId: user.id, ...c.req.valid("json") }, personOf(c));
    c.get("log").info("api token created", { userId: user.id, tokenId: token.id, scope: token.scope });
    return c.json({ token: presentToken(token), secret }, 201);
  })
  .openapi(listTokensRoute, async (c) => {
    const user = c.get("user");
    const tokens = await listTokens(c.get("services").db, user.id);
    return c.json({ tokens: tokens.map(presentToken) }, 200);
  })
  // Before /tokens/{id}, which would take "current" for an id.
  .openapi(revokeCurrentRoute, async (c) => {
    const user = c.get("user");
    const bearer = bearerToken(c);
    if (c.get("auth")?.via !== "token" || !bearer) throw new AppError("invalid", "no API token sent: this revokes the token in the Authorization header");
    const id = await revokeTokenByHash(c.get("services").db, user.id, await hashToken(bearer));
    c.get("log").info("api token revoked", { userId: user.id, tokenId: id });
    return c.body(null, 204);
  })
  .openapi(revokeTokenRoute, async (c) => {
    const user = c.get("user");
    const { id } = c.req.valid("param");
    await c.get("services").db.transaction(async (tx) => {
      if (!(await revokeToken(tx, user.id, id))) throw new AppError("not_found", "no such token");
      await audit(tx, personOf(c), { action: "token.revoke", target: { type: "token", id } });
    });
    c.get("log").info("api token revoked", { userId: user.id, tokenId: id });
    return c.body(null, 204);
  });

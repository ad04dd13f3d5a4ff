import { createRoute } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { presentJob } from "../jobs/schemas";
import { userOnly } from "../middleware/auth";
import { errorResponse, jsonBody, jsonResponse } from "../schemas";
import { presentSshKey } from "./present";
import { CreateSshKeyBody, MAX_SSH_KEYS, SshKeyIdParam, SshKeyListSchema, SshKeyResponse } from "./schemas";
import { addSshKey, listSshKeys, removeSshKey } from "./service";

const tags = ["ssh-keys"];
const common = { 401: errorResponse("Not signed in"), 403: errorResponse("The e-mail address is not verified yet") };

const listRoute = createRoute({
  ...userOnly,
  method: "get",
  path: "/ssh-keys",
  tags,
  summary: "Your SSH public keys (installed for your instance's user)",
  responses: { 200: jsonResponse(SshKeyListSchema, "Your keys"), ...common },
});

const createKeyRoute = createRoute({
  ...userOnly,
  method: "post",
  path: "/ssh-keys",
  tags,
  summary: `Add an SSH public key (at most ${MAX_SSH_KEYS}) and install your keys in your running instance`,
  request: { body: jsonBody(CreateSshKeyBody) },
  responses: {
    200: jsonResponse(SshKeyResponse, "You had this key already (installed again)"),
    201: jsonResponse(SshKeyResponse, "Added"),
    400: errorResponse("A field breaks a rule (not an OpenSSH public key)"),
    409: errorResponse(`You have ${MAX_SSH_KEYS} keys (code limit)`),
    ...common,
  },
});

const deleteRoute = createRoute({
  ...userOnly,
  method: "delete",
  path: "/ssh-keys/{id}",
  tags,
  summary: "Remove an SSH key (and from your running instance)",
  request: { params: SshKeyIdParam },
  responses: { 204: { description: "Removed" }, 404: errorResponse("No key of yours with that id"), ...common },
});

export const sshKeyRoutes = createRouter()
  .openapi(listRoute, async (c) => {
    const keys = await listSshKeys(c.get("services"), c.get("user").id);
    return c.json({ keys: keys.map(presentSshKey) }, 200);
  })
  .openapi(createKeyRoute, async (c) => {
    const user = c.get("user");
    const { key, created, job } = await addSshKey(c.get("services"), user.id, c.req.valid("json"));
    c.get("log").info("ssh key added", { fingerprint: key.fingerprint, created, jobId: job?.id, userId: user.id });
    return c.json({ key: presentSshKey(key), job: job ? presentJob(job) : null }, created ? 201 : 200);
  })
  .openapi(deleteRoute, async (c) => {
    const user = c.get("user");
    const job = await removeSshKey(c.get("services"), user.id, c.req.valid("param").id);
    c.get("log").info("ssh key removed", { id: c.req.valid("param").id, jobId: job?.id, userId: user.id });
    return c.body(null, 204);
  });

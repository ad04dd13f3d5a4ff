import { createRoute } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { userOnly } from "../middleware/auth";
import { errorResponse, jsonBody, jsonResponse } from "../schemas";
import { presentDomain } from "./present";
import { personOf } from "../audit/record";
import { CreateDomainBody, DomainListSchema, DomainParam, DomainResponse, UpdateDomainBody } from "./schemas";
import { changeDomain, createDomain, listDomains, removeDomain, verifyDomain } from "./service";

const tags = ["domains"];
const common = { 401: errorResponse("Not signed in"), 403: errorResponse("The e-mail address is not verified yet") };
const missing = errorResponse("No domain of yours with that name");

const listRoute = createRoute({
  ...userOnly,
  method: "get",
  path: "/domains",
  tags,
  summary: "Your custom domains",
  responses: { 200: jsonResponse(DomainListSchema, "Your domains"), ...common },
});

const createDomainRoute = createRoute({
  ...userOnly,
  method: "post",
  path: "/domains",
  tags,
  summary: "Claim a domain of yours for one of your apps (up to your domains quota); it is pending until its TXT record is found",
  request: { body: jsonBody(CreateDomainBody) },
  responses: {
    201: jsonResponse(DomainResponse, "Claimed: create the TXT record it names, then verify"),
    400: errorResponse("The domain is not a host name of at least two labels, is an IP address, or is KWS's own"),
    404: errorResponse("No app of yours with that name"),
    409: errorResponse("Another account holds the domain or you added it already (code conflict), or you have as many domains as your quota allows (code limit)"),
    ...common,
  },
});

const updateRoute = createRoute({
  ...userOnly,
  method: "patch",
  path: "/domains/{domain}",
  tags,
  summary: "Point a domain at another of your apps",
  request: { params: DomainParam, body: jsonBody(UpdateDomainBody) },
  responses: { 200: jsonResponse(DomainResponse, "Changed"), 400: errorResponse("A field breaks a rule"), 404: errorResponse("No domain or no app of yours with that name"), ...common },
});

const deleteRoute = createRoute({
  ...userOnly,
  method: "delete",
  path: "/domains/{domain}",
  tags,
  summary: "Remove a domain",
  request: { params: DomainParam },
  responses: { 204: { description: "Removed" }, 404: missing, ...common },
});

const verifyRoute = createRoute({
  ...userOnly,
  method: "post",
  path: "/domains/{domain}/verify",
  tags,
  summary: "Look the domain's TXT record up now",
  request: { params: DomainParam },
  responses: {
    200: jsonResponse(DomainResponse, "Verified: the domain is yours on KWS"),
    404: missing,
    409: errorResponse("The record is not there (code unproven: the message says what DNS had), or another account proved the domain first (code conflict)"),
    ...common,
  },
});

export const domainRoutes = createRouter()
  .openapi(listRoute, async (c) => c.json({ domains: (await listDomains(c.get("services"), c.get("user").id)).map(presentDomain) }, 200))
  .openapi(createDomainRoute, async (c) => {
    const user = c.get("user");
    const domain = await createDomain(c.get("services"), personOf(c), c.req.valid("json"));
    c.get("log").info("domain claimed", { domain: domain.name, app: domain.app, userId: user.id });
    return c.json({ domain: presentDomain(domain) }, 201);
  })
  .openapi(updateRoute, async (c) => {
    const user = c.get("user");
    const domain = await changeDomain(c.get("services"), personOf(c), c.req.valid("param").domain, c.req.valid("json"));
    c.get("log").info("domain changed", { domain: domain.name, app: domain.app, userId: user.id });
    return c.json({ domain: presentDomain(domain) }, 200);
  })
  .openapi(deleteRoute, async (c) => {
    const user = c.get("user");
    await removeDomain(c.get("services"), personOf(c), c.req.valid("param").domain);
    c.get("log").info("domain removed", { domain: c.req.valid("param").domain, userId: user.id });
    return c.body(null, 204);
  })
  .openapi(verifyRoute, async (c) => {
    const domain = await verifyDomain(c.get("services"), personOf(c), c.req.valid("param").domain, c.get("log"));
    return c.json({ domain: presentDomain(domain) }, 200);
  });

import { createRoute, z } from "@hono/zod-openapi";
import { constantTimeEqual } from "../../shared/crypto/encoding";
import { AppError } from "../core/errors";
import { customDomainOfHost, DNS_LABEL, isDnsName, labelOfHost, siteUrl } from "./names";
import { createRouter } from "../app";
import type { PageContext } from "../web/pages";
import { sameHostPath } from "../web/redirects";
import { errorResponse, jsonResponse } from "../schemas";
import { issueCode } from "./grants";
import { isDomainSite, resolveSite } from "./resolve";
import { directFromLoopback } from "../middleware/client-ip";

const AskQuery = z.object({
  domain: z.string({ message: "is required" }).min(1, "is required").max(253, "must be at most 253 characters"),
  secret: z.string().optional().openapi({ description: "KWS_INGRESS_ASK_SECRET, for callers that are not on loopback" }),
});

const askRoute = createRoute({
  method: "get",
  path: "/ingress/ask",
  tags: ["ingress"],
  summary: "Caddy's on-demand TLS check: 200 when the name is an app host of KWS, a verified custom domain, or KWS's own host (loopback or the shared secret only)",
  request: { query: AskQuery },
  responses: {
    200: jsonResponse(z.object({ domain: z.string() }), "KWS serves this name: a certificate may be issued"),
    403: errorResponse("Not from loopback and without the shared secret"),
    404: errorResponse("No instance, app or verified custom domain has this name"),
  },
});

/** Caddy asks from this machine, directly; through a proxy, it must bring the secret instead. */
function mayAsk(c: PageContext, secret: string | undefined): boolean {
  const configured = c.get("services").config.ingressAskSecret;
  const given = secret ?? c.req.header("x-kws-ask-secret");
  if (configured && given) {
    const enc = new TextEncoder();
    return constantTimeEqual(enc.encode(configured), enc.encode(given));
  }
  return directFromLoopback(c);
}

const AuthorizeQuery = z.object({
  // The site: an app host's label, or a custom domain (checked to be a verified one below).
  label: z.string().refine((v) => DNS_LABEL.test(v) || isDnsName(v)),
  path: z.string().optional(),
  state: z.string().regex(/^[A-Za-z0-9_-]{20,100}$/),
});

export const ingressRoutes = createRouter().openapi(askRoute, async (c) => {
  const { domain, secret } = c.req.valid("query");
  if (!mayAsk(c, secret)) throw new AppError("forbidden", "only Caddy on this machine (or a caller with KWS_INGRESS_ASK_SECRET) may ask");
  const { db, config } = c.get("services");
  // The control plane's own host too, for a Caddy that serves it beside the app hosts.
  if (domain.toLowerCase() === new URL(config.publicUrl).hostname) return c.json({ domain }, 200);
  const site = labelOfHost(config.appsUrl, domain) ?? customDomainOfHost(config, domain);
  if (!site || !(await resolveSite(db, site))) throw new AppError("not_found", `${domain} is not an app host of KWS nor a verified custom domain`);
  return c.json({ domain }, 200);
});

/**
 * The sign-in step of app hosts: the person signs in here (on the control plane's own host) and is
 * sent back to the app host with a one-time code for that host only.
 */
export const ingressPages = createRouter().get("/kws_authorize_app", async (c) => {
  const parsed = AuthorizeQuery.safeParse(c.req.query());
  if (!parsed.success) throw new AppError("invalid", "label and state: open the app's address again to sign in");
  const { label, state } = parsed.data;
  const path = sameHostPath(parsed.data.path) ?? "/";
  const user = c.get("auth")?.user;
  if (!user) return c.redirect(`/kws_signin?next=${encodeURIComponent(`/kws_authorize_app?label=${label}&path=${encodeURIComponent(path)}&state=${state}`)}`, 303);
  const { kv, config, db } = c.get("services");
  // Only to a custom domain that leads to an app: never a redirect to any name a link says.
  if (isDomainSite(label) && !(await resolveSite(db, label))) throw new AppError("not_found", `${label} is not a verified custom domain`);
  const code = await issueCode(kv, { userId: user.id, label, path, state });
  return c.redirect(`${siteUrl(config.appsUrl, label)}.kws/callback?code=${encodeURIComponent(code)}`, 303);
});

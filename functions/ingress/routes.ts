import { createRoute, z } from "@hono/zod-openapi";
import { constantTimeEqual } from "../../shared/crypto/encoding";
import { AppError } from "../core/errors";
import { appUrl, DNS_LABEL, DNS_LABEL_RULE, labelOfHost } from "./names";
import { createRouter } from "../app";
import type { PageContext } from "../web/pages";
import { sameHostPath } from "../web/redirects";
import { errorResponse, jsonResponse } from "../schemas";
import { issueCode } from "./grants";
import { resolveLabel } from "./resolve";
import { directFromLoopback } from "../middleware/client-ip";

const AskQuery = z.object({
  domain: z.string({ message: "is required" }).min(1, "is required").max(253, "must be at most 253 characters"),
  secret: z.string().optional().openapi({ description: "KWS_INGRESS_ASK_SECRET, for callers that are not on loopback" }),
});

const askRoute = createRoute({
  method: "get",
  path: "/ingress/ask",
  tags: ["ingress"],
  summary: "Caddy's on-demand TLS check: 200 when the name is an app host of KWS or its own host (loopback or the shared secret only)",
  request: { query: AskQuery },
  responses: {
    200: jsonResponse(z.object({ domain: z.string() }), "KWS serves this name: a certificate may be issued"),
    403: errorResponse("Not from loopback and without the shared secret"),
    404: errorResponse("No instance or app has this name"),
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
  label: z.string().regex(DNS_LABEL, DNS_LABEL_RULE),
  path: z.string().optional(),
  state: z.string().regex(/^[A-Za-z0-9_-]{20,100}$/),
});

export const ingressRoutes = createRouter().openapi(askRoute, async (c) => {
  const { domain, secret } = c.req.valid("query");
  if (!mayAsk(c, secret)) throw new AppError("forbidden", "only Caddy on this machine (or a caller with KWS_INGRESS_ASK_SECRET) may ask");
  const { db, config } = c.get("services");
  // The control plane's own host too, for a Caddy that serves it beside the app hosts.
  if (domain.toLowerCase() === new URL(config.publicUrl).hostname) return c.json({ domain }, 200);
  const label = labelOfHost(config.appsUrl, domain);
  if (!label || !(await resolveLabel(db, label))) throw new AppError("not_found", `${domain} is not an app host of KWS`);
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
  const { kv, config } = c.get("services");
  const code = await issueCode(kv, { userId: user.id, label, path, state });
  return c.redirect(`${appUrl(config.appsUrl, label)}.kws/callback?code=${encodeURIComponent(code)}`, 303);
});

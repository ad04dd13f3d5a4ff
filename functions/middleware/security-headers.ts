import type { MiddlewareHandler } from "hono";
import { NONCE, secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "../env";

// Scripts only with this response's nonce (pages render them with web/script.tsx): no inline
// handlers, no injected <script>. Nothing may frame a page (clickjacking).
const contentSecurityPolicy = {
  defaultSrc: ["'self'"],
  scriptSrc: [NONCE],
  styleSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

const headers = (hsts: boolean) =>
  secureHeaders({
    contentSecurityPolicy,
    // Not no-referrer: with it browsers send `Origin: null` on our own form posts, which the
    // cross-site check (same-origin.ts) would refuse.
    referrerPolicy: "strict-origin-when-cross-origin",
    xFrameOptions: "DENY",
    // Only where PUBLIC_URL is HTTPS; subdomains are people's apps, which HSTS leaves alone.
    strictTransportSecurity: hsts ? "max-age=31536000" : false,
  });

const production = headers(true);
const development = headers(false);

/**
 * Security headers on every response (errors included), and `Cache-Control: no-store` unless a
 * route chose its own caching: responses carry passwords, tokens and private keys, and a
 * default keeps the next such route from being stored by a browser or a proxy.
 */
export const securityHeaders = (): MiddlewareHandler<AppEnv> =>
  async function securityHeaders(c, next) {
    const apply = c.get("services").config.env === "production" ? production : development;
    await apply(c, async () => {
      await next();
      if (!c.res.headers.has("cache-control")) c.res.headers.set("cache-control", "no-store");
    });
  };

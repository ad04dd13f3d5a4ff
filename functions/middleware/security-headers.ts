import type { MiddlewareHandler } from "hono";
import { NONCE, secureHeaders } from "hono/secure-headers";
import type { Config } from "../../shared/config";
import type { AppEnv } from "../env";

// Scripts only with this response's nonce (pages render them with web/script.tsx): no inline
// handlers, no injected <script>. Nothing may frame a page (clickjacking).
const contentSecurityPolicy = (appHosts: string) => ({
  defaultSrc: ["'self'"],
  scriptSrc: [NONCE],
  styleSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  // The sign-in form's answer redirects on to the app host that asked for it (Chromium applies
  // form-action to a form's redirects too).
  formAction: ["'self'", appHosts],
  frameAncestors: ["'none'"],
});

/** `https://*.kws.app` for KWS_APPS_URL `https://kws.app`: every app host, as a CSP source. */
function appHostsSource(appsUrl: string): string {
  const url = new URL(appsUrl);
  return `${url.protocol}//*.${url.host}`;
}

const headers = (hsts: boolean, appsUrl: string) =>
  secureHeaders({
    contentSecurityPolicy: contentSecurityPolicy(appHostsSource(appsUrl)),
    // Not no-referrer: with it browsers send `Origin: null` on our own form posts, which the
    // cross-site check (same-origin.ts) would refuse.
    referrerPolicy: "strict-origin-when-cross-origin",
    xFrameOptions: "DENY",
    // Only where PUBLIC_URL is HTTPS; subdomains are people's apps, which HSTS leaves alone.
    strictTransportSecurity: hsts ? "max-age=31536000" : false,
  });

// Built once per configuration, not per request.
const byConfig = new WeakMap<Config, MiddlewareHandler>();
function headersFor(config: Config): MiddlewareHandler {
  let made = byConfig.get(config);
  if (!made) byConfig.set(config, (made = headers(config.env === "production", config.appsUrl)));
  return made;
}

/**
 * Security headers on every response (errors included), and `Cache-Control: no-store` unless a
 * route chose its own caching: responses carry passwords, tokens and private keys, and a
 * default keeps the next such route from being stored by a browser or a proxy.
 */
export const securityHeaders = (): MiddlewareHandler<AppEnv> =>
  async function securityHeaders(c, next) {
    await headersFor(c.get("services").config)(c, async () => {
      await next();
      if (!c.res.headers.has("cache-control")) c.res.headers.set("cache-control", "no-store");
    });
  };

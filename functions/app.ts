import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { requestId } from "hono/request-id";
import { routePath } from "hono/route";
import { AppError } from "./core/errors";
import type { AppEnv } from "./env";
import { authenticate } from "./middleware/auth";
import { limitBody } from "./middleware/body-limit";
import { sameOriginWrites } from "./middleware/same-origin";
import { securityHeaders } from "./middleware/security-headers";
import { handleError, validationError } from "./errors";
import type { Services } from "./services";

export const MAX_BODY_BYTES = 64 * 1024;

/** Every router is made here, so every route validates the same way. */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error);
    },
  });
}

export type ServiceProvider = (c: Context<AppEnv>) => Promise<{ services: Services; release?: () => Promise<void> }>;

/**
 * The app factory: request ids, services from the provider, structured request logs, security
 * headers, the cross-site check of state-changing requests, the body limit and the one error
 * handler. Functions are mounted on the result.
 */
export function createApp(provide: ServiceProvider) {
  const app = createRouter();
  app.use(requestId());
  app.use(servicesMiddleware(provide));
  app.use(securityHeaders());
  app.use(sameOriginWrites());
  app.use(
    limitBody(MAX_BODY_BYTES, () => {
      throw new AppError("payload_too_large", `request body is over ${MAX_BODY_BYTES} bytes`);
    }),
  );
  // Optional authentication for every request: it costs a lookup only when a cookie or token is sent.
  app.use(authenticate());
  app.onError(handleError);
  app.notFound((c) => handleError(new AppError("not_found", `no route for ${c.req.method} ${c.req.path}`), c));
  return app;
}

function servicesMiddleware(provide: ServiceProvider): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { services, release } = await provide(c);
    const log = services.logger.child({ requestId: c.get("requestId") });
    c.set("services", services);
    c.set("log", log);
    const started = performance.now();
    try {
      await next();
    } finally {
      const ms = performance.now() - started;
      log.info("request", { method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(ms * 10) / 10 });
      services.metrics?.httpRequest(c.req.method, routePattern(c), c.res.status, ms / 1000);
      if (release) {
        const done = release();
        try {
          // On the edge the response can go out while connections close.
          c.executionCtx.waitUntil(done);
        } catch {
          await done;
        }
      }
    }
  };
}

/**
 * The pattern of the route that answered (`/api/v1/jobs/:id`), so paths with ids count as one; a
 * request that reached no route (only the catch-all middleware) counts as "unmatched".
 */
function routePattern(c: Context<AppEnv>): string {
  const path = routePath(c);
  return path === "/*" || path === "*" ? "unmatched" : path;
}

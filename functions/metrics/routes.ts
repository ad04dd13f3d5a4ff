import { createRoute, z } from "@hono/zod-openapi";
import { constantTimeEqual } from "../../shared/crypto/encoding";
import { createRouter } from "../app";
import { configured } from "../configured";
import { AppError } from "../core/errors";
import { bearerToken } from "../middleware/auth";
import { directFromLoopback } from "../middleware/client-ip";
import { errorResponse } from "../schemas";

const metricsRoute = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["operations"],
  summary: "Prometheus metrics (text format): with KWS_METRICS_TOKEN as bearer token, or from loopback when it is not set",
  responses: {
    200: { content: { "text/plain": { schema: z.string() } }, description: "Prometheus text exposition format 0.0.4" },
    401: errorResponse("KWS_METRICS_TOKEN is set and the request does not carry it"),
    403: errorResponse("No KWS_METRICS_TOKEN is set and the caller is not on loopback"),
    503: errorResponse("This deployment records no metrics (the edge)"),
  },
});

export const metricsRoutes = createRouter().openapi(metricsRoute, async (c) => {
  const { config, metrics } = c.get("services");
  if (config.metricsToken) {
    const given = bearerToken(c);
    const enc = new TextEncoder();
    if (!given || !constantTimeEqual(enc.encode(config.metricsToken), enc.encode(given))) {
      throw new AppError("unauthorized", "send KWS_METRICS_TOKEN as Authorization: Bearer", { headers: { "www-authenticate": 'Bearer realm="metrics"' } });
    }
  } else if (!directFromLoopback(c)) {
    throw new AppError("forbidden", "metrics are answered to loopback callers only unless KWS_METRICS_TOKEN is set");
  }
  const registry = configured(metrics, "this deployment records no metrics");
  return c.text(await registry.scrape(), 200, { "content-type": registry.contentType });
});

import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { jsonResponse } from "../schemas";

const Health = z.object({ status: z.literal("ok") }).openapi("Health");
const Ready = z
  .object({
    status: z.enum(["ready", "not_ready"]),
    checks: z.record(z.string(), z.object({ ok: z.boolean(), error: z.string().optional() })),
  })
  .openapi("Readiness");

const healthRoute = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["health"],
  summary: "The process is up",
  responses: { 200: jsonResponse(Health, "Up") },
});

const readyRoute = createRoute({
  method: "get",
  path: "/readyz",
  tags: ["health"],
  summary: "The database and the KV answer",
  responses: { 200: jsonResponse(Ready, "Ready"), 503: jsonResponse(Ready, "A dependency does not answer") },
});

async function check(probe: () => Promise<void>) {
  try {
    await probe();
    return { ok: true };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

export const healthRoutes = createRouter()
  .openapi(healthRoute, (c) => c.json({ status: "ok" as const }, 200))
  .openapi(readyRoute, async (c) => {
    const s = c.get("services");
    const [database, kv] = await Promise.all([check(() => s.pingDatabase()), check(() => s.kv.ping())]);
    const ready = database.ok && kv.ok;
    return c.json({ status: ready ? ("ready" as const) : ("not_ready" as const), checks: { database, kv } }, ready ? 200 : 503);
  });

/**
 * The Cloudflare Worker entry of the sign-up API (register, verify, resend, login, logout, me, and
 * the /kws_verify page its mails link to):
 * `wrangler.toml` points here, `npm run build:edge` bundles it, test/edge runs it in workerd.
 *
 * Only what runs in workerd may be imported from here (directly or not): no node:fs, PGlite,
 * nodemailer, amqplib, ws. scripts/build-edge.ts refuses a bundle that pulls any of them in.
 *
 * The edge never migrates the database: the Node control plane (`npm start`) applies drizzle/
 * at its start, and the edge expects that schema to be in place.
 */
import type { ExecutionContext } from "hono";
import { AppError } from "./core/errors";
import { ConfigError, parseConfig, type Config, type ConfigInput } from "../shared/config";
import { connectPostgres } from "../shared/db/postgres";
import { UpstashKV } from "../shared/kv/upstash";
import { createLogger } from "../shared/logger";
import { LogMailer } from "../shared/mail/log";
import type { ServiceProvider } from "./app";
import type { Services } from "./services";
import { createSignupApi } from "./signup-api";

/** The variables the edge cannot do without: there is no embedded fallback in a Worker. */
const REQUIRED = ["DATABASE_URL", "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"] as const;

type EdgeConfig = Config & { databaseUrl: string; upstash: { url: string; token: string } };

/** Bindings are strings for [vars] and secrets; anything else (KV namespaces, ...) is no config. */
function configInput(env: unknown): ConfigInput {
  const input: ConfigInput = {};
  for (const [k, v] of Object.entries((env ?? {}) as Record<string, unknown>)) {
    if (typeof v === "string") input[k] = v;
  }
  return input;
}

// Parsed once per bindings object (one per isolate), not once per request.
const configs = new WeakMap<object, EdgeConfig>();

function edgeConfig(env: unknown): EdgeConfig {
  const cached = env && typeof env === "object" ? configs.get(env) : undefined;
  if (cached) return cached;
  const input = configInput(env);
  const missing = REQUIRED.filter((name) => (input[name] ?? "").trim() === "");
  if (missing.length > 0) {
    throw new AppError(
      "not_configured",
      `the edge deployment is missing ${missing.join(", ")}: set ${missing.length > 1 ? "them" : "it"} with ` +
        `\`wrangler secret put <NAME>\` (the edge has no embedded database or KV)`,
      { issues: missing.map((path) => ({ path, message: "is required at the edge" })) },
    );
  }
  let config: Config;
  try {
    config = parseConfig(input);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new AppError("not_configured", `the edge deployment is misconfigured: ${err.problems.join("; ")}`, {
      issues: err.problems.map((p) => {
        const at = p.indexOf(": ");
        return at > 0 ? { path: p.slice(0, at), message: p.slice(at + 2) } : { path: "environment", message: p };
      }),
    });
  }
  const edge = config as EdgeConfig;
  if (env && typeof env === "object") configs.set(env, edge);
  return edge;
}

/**
 * Services per request: a Worker cannot carry a TCP socket from one request to the next, so each
 * request opens its own one-connection postgres client, and `release` (handed to waitUntil by
 * app.ts) closes it after the response has gone out.
 */
const provide: ServiceProvider = async (c) => {
  const config = edgeConfig(c.env);
  const logger = createLogger({ service: "kws-edge" }, { level: config.logLevel });
  const database = connectPostgres(config.databaseUrl, { max: 1, idleTimeout: 5 });
  const services: Services = {
    config,
    db: database.db,
    kv: new UpstashKV(config.upstash),
    // Mails become JSON log lines (msg "mail"); SMTP needs a Node socket library the edge lacks.
    mailer: new LogMailer(logger),
    logger,
    pingDatabase: () => database.ping(),
  };
  return { services, release: () => database.close() };
};

const app = createSignupApi(provide);

export default {
  fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext) {
    return app.fetch(request, env, ctx);
  },
};

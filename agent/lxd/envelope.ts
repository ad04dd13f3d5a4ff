import { LxdError } from "./errors";
import type { LxdAsyncEnvelope, LxdEnvelope, LxdSyncEnvelope } from "./types";
import type { RawResponse } from "./transport";

/**
 * Reads LXD's sync/async/error envelope. The body's `type` decides, not the HTTP status:
 * newer LXD answers some failures (e.g. operation waits) with HTTP 200 and an error envelope.
 */
export function parseEnvelope<T>(
  res: RawResponse,
  context: { method: string; path: string },
): LxdSyncEnvelope<T> | LxdAsyncEnvelope {
  const text = res.body.toString("utf8");
  let env: LxdEnvelope<T> | undefined;
  try {
    env = JSON.parse(text) as LxdEnvelope<T>;
  } catch {
    env = undefined;
  }
  if (!env || typeof env !== "object" || !("type" in env)) {
    const snippet = text.trim().slice(0, 200) || `HTTP ${res.status} with an empty body`;
    throw new LxdError(res.status >= 400 ? res.status : 502, `unexpected answer: ${snippet}`, context);
  }
  if (env.type === "error") {
    throw new LxdError(env.error_code || res.status, env.error || `HTTP ${res.status}`, context);
  }
  if (env.type === "async") {
    const location = res.headers.location;
    return { ...env, operation: env.operation || (typeof location === "string" ? location : "") };
  }
  if (env.type === "sync") return env;
  throw new LxdError(502, `unknown envelope type ${JSON.stringify((env as { type: unknown }).type)}`, context);
}

import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { z } from "zod";
import type { ErrorSchema } from "./schemas";
import { AppError, type ErrorCode, type ErrorIssue } from "./core/errors";
import type { AppEnv } from "./env";

/** The error envelope; jobId: the job that is already running, when a 409 refuses to start another. */
export type ErrorBody = z.infer<typeof ErrorSchema>;

export function zodIssues(error: z.ZodError): ErrorIssue[] {
  return error.issues.map((i) => ({ path: i.path.join(".") || "body", message: i.message }));
}

export function validationError(error: z.ZodError): AppError {
  const issues = zodIssues(error);
  const first = issues[0];
  return new AppError("invalid", first ? `${first.path}: ${first.message}` : "invalid request", { issues });
}

const statusCodes: Record<number, ErrorCode> = {
  400: "invalid",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  410: "gone",
  413: "payload_too_large",
  415: "unsupported_media_type",
  429: "rate_limited",
};

/** The single onError: AppError and HTTPException become the envelope; anything else a bare 500. */
export function handleError(err: Error, c: Context<AppEnv>) {
  const requestId = c.get("requestId") ?? "unknown";
  if (err instanceof AppError) {
    const body: ErrorBody = { error: { code: err.code, message: err.message, requestId } };
    if (err.extra.issues) body.error.issues = err.extra.issues;
    if (err.extra.jobId) body.error.jobId = err.extra.jobId;
    return c.json(body, err.status, err.extra.headers);
  }
  if (err instanceof HTTPException && err.status < 500) {
    const code = statusCodes[err.status] ?? "invalid";
    // Hono's own messages (e.g. "Malformed JSON in request body") are safe to show.
    const message = err.message || code;
    return c.json({ error: { code, message, requestId } } satisfies ErrorBody, err.status);
  }
  (c.get("log") ?? console).error("unhandled error", { err, requestId });
  return c.json({ error: { code: "internal", message: "internal error", requestId } } satisfies ErrorBody, 500);
}

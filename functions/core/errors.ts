import type { ContentfulStatusCode } from "hono/utils/http-status";

/** The error codes of the API, each with the one HTTP status it maps to. */
export const errorStatus = {
  invalid: 400,
  unauthorized: 401,
  unverified: 403,
  forbidden: 403,
  // An account an administrator suspended: it cannot sign in until unsuspended.
  suspended: 403,
  not_found: 404,
  conflict: 409,
  limit: 409,
  // A custom domain whose TXT record is not (yet) in DNS.
  unproven: 409,
  // Device authorization (RFC 8628 §3.5), answered to a CLI polling for its token.
  authorization_pending: 400,
  slow_down: 400,
  expired_token: 400,
  access_denied: 400,
  gone: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  not_configured: 503,
  unavailable: 503,
  no_capacity: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof errorStatus;

export interface ErrorIssue {
  path: string;
  message: string;
}

export class AppError extends Error {
  readonly status: ContentfulStatusCode;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: { issues?: ErrorIssue[]; headers?: Record<string, string>; jobId?: string } = {},
  ) {
    super(message);
    this.name = "AppError";
    this.status = errorStatus[code];
  }
}

export const invalid = (path: string, message: string) =>
  new AppError("invalid", `${path}: ${message}`, { issues: [{ path, message }] });

import type { ApiMethod, ErrorBody, Reply } from "../functions/api-types";
import { CliError, EXIT, notSignedIn } from "./errors";

type Success<M extends ApiMethod, P extends string> = Extract<Reply<M, P>, { status: 200 | 201 | 202 | 204 }>["body"];

/** What to do next after an error code of the API, when the message alone does not say it. */
const HINTS: Partial<Record<ErrorBody["error"]["code"], string>> = {
  unverified: "open the link KWS mailed you to verify your e-mail address, then try again",
  rate_limited: "wait a little, then try again",
  unavailable: "KWS or one of its services is not answering: try again shortly",
  no_capacity: "no host has room right now: try again later, or ask your administrator",
  not_configured: "ask your administrator to configure it",
};

/**
 * The control plane's HTTP API at `baseUrl`, with the API token as bearer. Replies are typed by the
 * route a path matches (functions/api-types.ts); a failure becomes a CliError that says what to do.
 */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  /** A request as it is answered (for streams and non-JSON bodies); only an unreachable server throws. */
  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.token) headers.set("authorization", `Bearer ${this.token}`);
    headers.set("user-agent", "kws-cli");
    try {
      return await fetch(new URL(path, this.baseUrl), { ...init, headers });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(`cannot reach ${this.baseUrl}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, EXIT.failed, "check the address (`kws login URL` sets it) and that KWS is running there");
    }
  }

  /** A JSON request to `/api/v1` + `path`: the body of a 2xx, else a CliError (401: exit 3). */
  async call<M extends ApiMethod, P extends string>(method: M, path: P, body?: unknown): Promise<Success<M, `/api/v1${P}`>> {
    const res = await this.fetch(`/api/v1${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw await apiError(res);
    const text = await res.text();
    return (text ? JSON.parse(text) : {}) as Success<M, `/api/v1${P}`>;
  }
}

/** The CliError of a failed reply: the API's message and code, the field a 400 names, what to do next. */
export async function apiError(res: Response): Promise<CliError> {
  const text = await res.text();
  let error: Partial<ErrorBody["error"]> = {};
  try {
    error = (JSON.parse(text) as ErrorBody).error ?? {};
  } catch {
    // not KWS's error envelope (a proxy's page): the status says enough
  }
  const message = error.message ?? `the control plane answered ${res.status} ${res.statusText}`;
  if (res.status === 401) return notSignedIn(`not signed in: ${message} (the token was revoked, expired or is not known here)`);
  const hint = error.code === "conflict" && error.jobId ? `a job of yours is still running (job ${error.jobId}): wait for it, then try again` : error.code ? HINTS[error.code] : undefined;
  return new CliError(message, EXIT.failed, hint, error.code);
}

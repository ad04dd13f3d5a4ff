/**
 * Typed requests to the control plane's API for tests (the types are functions/api-types.ts).
 */
import type { ApiMethod, Reply } from "../../functions/api-types";
import type { CommandKind, CommandResult } from "../../shared/protocol/commands";

export type { ApiMethod, BodyOf, ErrorBody, Reply } from "../../functions/api-types";

/**
 * A `Response` whose status and `json()` are the route's: narrow on `status`, then read the body.
 * `__route` only names the route for replyOf; it is never set.
 */
export type ApiResponse<M extends ApiMethod, P extends string> = Reply<M, P> extends infer R
  ? R extends { status: infer S; body: infer B }
    ? Omit<Response, "status" | "json"> & { status: S; json(): Promise<B>; readonly __route?: [M, P] }
    : never
  : never;

/**
 * A JSON request to the control plane at `baseUrl` (an API token as bearer, when given): the reply
 * with its body parsed ({} when empty), its headers and its text as sent.
 */
export async function fetchApi<M extends ApiMethod, P extends string>(
  baseUrl: string,
  method: M,
  path: P,
  options: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
): Promise<Reply<M, P> & { headers: Headers; text: string }> {
  const { body, token, headers = {} } = options;
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { ...replyFrom<M, P>(res.status, text), headers: res.headers, text };
}

/** A response as its route's reply: the status and the parsed body ({} when empty). */
export async function replyOf<M extends ApiMethod, P extends string>(res: { readonly __route?: [M, P]; status: number; text(): Promise<string> }): Promise<Reply<M, P>> {
  return replyFrom<M, P>(res.status, await res.text());
}

const replyFrom = <M extends ApiMethod, P extends string>(status: number, text: string) => ({ status, body: text ? JSON.parse(text) : {} }) as Reply<M, P>;

/** The body of `reply` at `status`; any other status fails, naming it and the body. */
export function bodyAt<R extends { status: number; body: unknown }, S extends R["status"]>(reply: R, status: S): Extract<R, { status: S }>["body"] {
  if (reply.status !== status) throw new Error(`expected ${status}, got ${reply.status}: ${JSON.stringify(reply.body)}`);
  return reply.body as Extract<R, { status: S }>["body"];
}

/** A job's result as its command declares it (the job's `kind`: an instance summary, an exec's output, ...). */
export function resultOf<K extends CommandKind>(job: { kind: string; result?: unknown }, kind: K): CommandResult<K> {
  if (job.kind !== kind) throw new Error(`job of kind ${job.kind}, not ${kind}`);
  return job.result as CommandResult<K>;
}

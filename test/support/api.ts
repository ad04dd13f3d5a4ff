/**
 * The control plane's API as its routes declare it, for typed test clients: a request names a
 * method and a concrete path (`/api/v1/hosts/${id}/jobs`), and its reply is typed by the route that
 * path matches: each declared status with its body, so a test that reads a field a route no longer
 * answers fails to compile. Statuses a route does not declare (a limit, the body limit, a server
 * error) answer the error body.
 */
import type { Hono } from "hono";
import type { StatusCode } from "hono/utils/http-status";
import type { createControlPlane } from "../../functions/control-plane";
import type { ErrorSchema } from "../../functions/schemas";
import type { CommandKind, CommandResult } from "../../shared/protocol/commands";
import type { z } from "zod";

type AppSchema = ReturnType<typeof createControlPlane> extends Hono<any, infer S, any> ? S : never;
export type ApiMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS";
export type ErrorBody = z.infer<typeof ErrorSchema>;

type Segments<P extends string> = P extends `${infer A}/${infer B}` ? [A, ...Segments<B>] : [P];
type WithoutQuery<P extends string> = P extends `${infer A}?${string}` ? A : P;
/** Whether the path's segments match the route's, a `:param` segment matching any one. */
type Matches<Path extends string[], Route extends string[]> = Path extends [infer P, ...infer PR extends string[]]
  ? Route extends [infer R, ...infer RR extends string[]]
    ? R extends `:${string}`
      ? Matches<PR, RR>
      : [P] extends [R]
        ? Matches<PR, RR>
        : false
    : false
  : Route extends []
    ? true
    : false;
/** The route keys (`/api/v1/hosts/:id`) a concrete path matches. */
type RouteOf<P extends string> = {
  [K in keyof AppSchema & string]: Matches<Segments<WithoutQuery<P>>, Segments<K>> extends true ? K : never;
}[keyof AppSchema & string];
type EndpointOf<M extends ApiMethod, P extends string> = RouteOf<P> extends infer K extends keyof AppSchema
  ? `$${Lowercase<M>}` extends keyof AppSchema[K]
    ? AppSchema[K][`$${Lowercase<M>}`]
    : never
  : never;

type Declared<E> = E extends { output: infer O; outputFormat: "json"; status: infer S extends number } ? { status: S; body: O } : never;
type Undeclared<E> = { status: Exclude<StatusCode, Declared<E>["status"]>; body: ErrorBody };

/**
 * The reply of `method path`: a union over statuses, narrowed by `assert.equal(reply.status, 201)`.
 * A path no JSON route matches (a page, a path that is not there) has an untyped body.
 */
export type Reply<M extends ApiMethod, P extends string> = [Declared<EndpointOf<M, P>>] extends [never]
  ? { status: number; body: unknown }
  : Declared<EndpointOf<M, P>> | Undeclared<EndpointOf<M, P>>;

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

/** The body route `method path` answers with `status`, e.g. `BodyOf<"GET", "/api/v1/jobs/x", 200>`. */
export type BodyOf<M extends ApiMethod, P extends string, S extends number> = Extract<Reply<M, P>, { status: S }>["body"];

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

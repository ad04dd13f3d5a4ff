/**
 * The control plane's API as its routes declare it, for typed clients (the tests, the `kws` CLI):
 * a request names a method and a concrete path (`/api/v1/hosts/${id}/jobs`), and its reply is typed
 * by the route that path matches: each declared status with its body, so a client that reads a
 * field a route no longer answers fails to compile. Statuses a route does not declare (a limit, the
 * body limit, a server error) answer the error body. Types only: importing it loads no server code.
 */
import type { Hono } from "hono";
import type { StatusCode } from "hono/utils/http-status";
import type { createControlPlane } from "./control-plane";
import type { ErrorSchema } from "./schemas";
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

/** The body route `method path` answers with `status`, e.g. `BodyOf<"GET", "/api/v1/jobs/x", 200>`. */
export type BodyOf<M extends ApiMethod, P extends string, S extends number> = Extract<Reply<M, P>, { status: S }>["body"];


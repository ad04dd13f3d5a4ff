import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { AppError } from "../core/errors";
import type { AppEnv } from "../env";
import { formFailure, type FieldErrors } from "./forms";
import { withNonce } from "./script";

/** What every signed-in page needs: who is signed in, the way to sign-in, and rendering. */
export type PageContext = Context<AppEnv>;

export const html = (c: PageContext, page: unknown, status: ContentfulStatusCode = 200) => c.html(withNonce(c, page as never), status);
export const signedIn = (c: PageContext) => c.get("auth")?.user;
export const toSignIn = (c: PageContext) => c.redirect("/kws_signin?notice=signin-required", 303);

/** Failures as page feedback; a 503 the person can act on (not configured, no capacity) is shown rather than thrown. */
export function pageFailure(err: unknown): { status: ContentfulStatusCode; errors: FieldErrors; message?: string } {
  if (err instanceof AppError && err.status >= 500 && err.code !== "internal") return { status: err.status, errors: {}, message: err.message };
  const f = formFailure(err);
  return { status: f.status, errors: f.errors, message: f.message ?? (Object.keys(f.errors).length ? undefined : f.code) };
}

import type { Context } from "hono";
import type { z } from "zod";
import { AppError } from "../core/errors";
import type { AppEnv } from "../env";
import { zodIssues } from "../errors";
import { CSRF_FIELD, verifyCsrf } from "./csrf";

export type FieldErrors = Record<string, string>;

/** The form's text fields, after the CSRF check. Files and repeated fields are ignored. */
export async function readForm(c: Context<AppEnv>): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  verifyCsrf(c, body[CSRF_FIELD]);
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === "string" && k !== CSRF_FIELD) fields[k] = v;
  return fields;
}

/** The first message per field, in words, for showing next to each field. */
export function fieldErrors(issues: { path: string; message: string }[]): FieldErrors {
  const out: FieldErrors = {};
  for (const i of issues) out[i.path] ??= i.message;
  return out;
}

export type FormResult<T> = { ok: true; data: T } | { ok: false; errors: FieldErrors; status: 400 };

export function validateForm<S extends z.ZodType>(schema: S, fields: Record<string, string>): FormResult<z.output<S>> {
  const parsed = schema.safeParse(fields);
  if (parsed.success) return { ok: true, data: parsed.data };
  return { ok: false, errors: fieldErrors(zodIssues(parsed.error)), status: 400 };
}

/** An AppError as page feedback: field errors when it names fields, else one message. */
export function formFailure(err: unknown): { status: AppError["status"]; errors: FieldErrors; message?: string; code: string } {
  if (!(err instanceof AppError) || err.status >= 500) throw err;
  if (err.extra.headers) return { status: err.status, errors: {}, message: err.message, code: err.code };
  return err.extra.issues
    ? { status: err.status, errors: fieldErrors(err.extra.issues), code: err.code }
    : { status: err.status, errors: {}, message: err.message, code: err.code };
}

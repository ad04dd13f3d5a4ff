import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
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

/** What a failed form shows: its status, the first error of each field, or one message. */
export interface FormFailure {
  status: ContentfulStatusCode;
  errors: FieldErrors;
  message?: string;
  /** The AppError's code, for a page that explains one (an unverified sign-in). */
  code?: string;
}

export type FormResult<T> = { ok: true; data: T } | ({ ok: false } & FormFailure);

export function validateForm<S extends z.ZodType>(schema: S, fields: Record<string, string>): FormResult<z.output<S>> {
  const parsed = schema.safeParse(fields);
  if (parsed.success) return { ok: true, data: parsed.data };
  return { ok: false, errors: fieldErrors(zodIssues(parsed.error)), status: 400 };
}

/**
 * A form that only names one of the person's things (a remove button): the `field` checked by
 * `schema`; a malformed name is a thing that is not theirs, 404 with `missing`, as the API answers.
 */
export const namesOne =
  <S extends z.ZodType>(field: string, schema: S, missing: string) =>
  (fields: Record<string, string>): FormResult<z.output<S>> => {
    const parsed = schema.safeParse(fields[field] ?? "");
    return parsed.success ? { ok: true, data: parsed.data } : { ok: false, status: 404, errors: {}, message: missing };
  };

/**
 * Failures as page feedback: field errors when the AppError names fields, else one message; a 503
 * the person can act on (not configured, no capacity) is shown too. Anything else is thrown.
 */
export function formFailure(err: unknown): FormFailure {
  if (!(err instanceof AppError) || err.code === "internal") throw err;
  const { status, code } = err;
  if (err.extra.issues && !err.extra.headers && status < 500) return { status, errors: fieldErrors(err.extra.issues), code };
  return { status, errors: {}, message: err.message, code };
}

/**
 * The one shape of a form post: the CSRF-checked fields → `parse` → `run`; an invalid form or a
 * failure of `run` goes to `fail`, which renders the page again with the failure's status.
 */
export async function submitForm<T>(
  c: Context<AppEnv>,
  parse: (fields: Record<string, string>) => FormResult<T>,
  run: (data: T, fields: Record<string, string>) => Promise<Response>,
  fail: (failure: FormFailure, fields: Record<string, string>) => Response | Promise<Response>,
): Promise<Response> {
  const fields = await readForm(c);
  const valid = parse(fields);
  if (!valid.ok) return fail(valid, fields);
  try {
    return await run(valid.data, fields);
  } catch (err) {
    return fail(formFailure(err), fields);
  }
}

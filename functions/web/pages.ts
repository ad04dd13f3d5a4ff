import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import type { Logger } from "../../shared/logger";
import type { AppEnv, AuthUser } from "../env";
import { personOf, type Person } from "../audit/record";
import type { Services } from "../services";
import { csrfToken } from "./csrf";
import { type FieldErrors, type FormResult, submitForm, validateForm } from "./forms";
import { withNonce } from "./script";

/** What every page handler gets. */
export type PageContext = Context<AppEnv>;

export const html = (c: PageContext, page: unknown, status: ContentfulStatusCode = 200) => c.html(withNonce(c, page as never), status);

/** The one guard of the signed-in pages: signed-out visitors go to sign-in, others reach `page` with who they are. */
export const signedInPage =
  (page: (c: PageContext, user: AuthUser) => Response | Promise<Response>) =>
  (c: PageContext): Response | Promise<Response> => {
    const user = c.get("auth")?.user;
    return user ? page(c, user) : c.redirect("/kws_signin?notice=signin-required", 303);
  };

/**
 * The render of a signed-in page of the person's things: `load` reads them, `draw` makes the page
 * of them with who is signed in, the form token and what a form hands back (`extra`).
 */
export const pageOf =
  <D, E>(load: (c: PageContext, user: AuthUser) => Promise<D>, draw: (view: D & { user: AuthUser; csrf: string } & Partial<E>) => unknown) =>
  async (c: PageContext, user: AuthUser, extra: Partial<E> = {}, status: ContentfulStatusCode = 200): Promise<Response> =>
    html(c, draw({ ...(await load(c, user)), user, csrf: csrfToken(c), ...extra }), status);

/** How a signed-in page renders itself again with a form's feedback. */
export type Rerender = (
  c: PageContext,
  user: AuthUser,
  feedback: { values?: Record<string, string>; errors?: FieldErrors; message?: string },
  status: ContentfulStatusCode,
) => Response | Promise<Response>;

type Parse<T> = (fields: Record<string, string>) => FormResult<T>;
type Run<T> = (c: PageContext, user: AuthUser, data: T) => Promise<Response>;

/** A signed-in form of fields checked by `schema`: a failure is shown at its fields, with what was typed (passwords aside: Field leaves them out). */
export const fieldsForm = <S extends z.ZodType>(rerender: Rerender, schema: S, run: Run<z.output<S>>) =>
  signedInPage((c, user) =>
    submitForm(
      c,
      (fields) => validateForm(schema, fields),
      (data) => run(c, user, data),
      (f, fields) => rerender(c, user, { values: fields, errors: f.errors, message: f.message }, f.status),
    ),
  );

/** A signed-in button (start, remove, reveal): a failure is one message on the page. */
export const buttonForm = <T>(rerender: Rerender, parse: Parse<T>, run: Run<T>) =>
  signedInPage((c, user) =>
    submitForm(
      c,
      parse,
      (data) => run(c, user, data),
      (f) => rerender(c, user, { message: f.message }, f.status),
    ),
  );

/** A button that sends nothing but the CSRF token. */
export const noFields: Parse<Record<string, string>> = (fields) => ({ ok: true, data: fields });

/** A page with a form that mails a link: the form again with its feedback, or that the link is sent. */
type LinkPage = (p: { csrf: string; values?: Record<string, string>; errors?: FieldErrors; message?: string; sent?: boolean }) => unknown;

/**
 * A form that mails a link to an address (a password reset, a new verification link). It answers
 * "sent" whatever the address, so the page tells nobody which addresses have accounts.
 */
export const mailLinkForm =
  (page: LinkPage, schema: z.ZodType<{ email: string }>, send: (c: PageContext, email: string) => Promise<void>) => (c: PageContext) =>
    submitForm(
      c,
      (fields) => validateForm(schema, fields),
      async ({ email }) => {
        await send(c, email);
        return html(c, page({ csrf: csrfToken(c), sent: true }));
      },
      (f, fields) => html(c, page({ csrf: csrfToken(c), values: fields, errors: f.errors, message: f.message }), f.status),
    );

/**
 * The usual end of a signed-in form: `act` for the person, then the browser goes to `to` with a GET
 * (post/redirect/get: reloading the page does not send the form again).
 */
export const thenGo =
  <T>(to: string, act: (s: Services, who: Person, data: T, log: Logger) => Promise<unknown>): Run<T> =>
  async (c, _user, data) => {
    await act(c.get("services"), personOf(c), data, c.get("log"));
    return c.redirect(to, 303);
  };

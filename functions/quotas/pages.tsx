import { z } from "zod";
import { createRouter } from "../app";
import { findUserByLogin } from "../auth/users";
import { personOf } from "../audit/record";
import type { AuthUser } from "../env";
import { csrfToken } from "../web/csrf";
import { type FieldErrors, submitForm, validateForm } from "../web/forms";
import { Field, Layout, Notice, PostForm } from "../web/layout";
import { adminPage } from "../web/admin";
import { html, type PageContext } from "../web/pages";
import { quotaKeys, quotaNouns } from "./limits";
import { type PersonQuotas, SetQuotasBody } from "./schemas";
import { personQuotas, setPersonQuotas } from "./service";

/** The administrators' quota overrides of one person; the admin pages link here (`?user=` an id, e-mail or username). */
export const QUOTAS_PAGE = "/kws_admin/quotas";

interface View {
  user: AuthUser;
  csrf: string;
  lookup: string;
  person?: PersonQuotas;
  values?: Record<string, string>;
  errors?: FieldErrors;
  message?: string;
}

function QuotasPage({ user, csrf, lookup, person, values, errors = {}, message }: View) {
  return (
    <Layout title="Quotas" user={user} csrf={csrf} wide forms>
      <div class="card">
        <h1>Quotas of a person</h1>
        <form method="get" action={QUOTAS_PAGE}>
          <label for="user">Person (id, e-mail or username)</label>
          <input id="user" name="user" value={lookup} autocomplete="off" />
          <button type="submit">Show</button>
        </form>
        {message ? <Notice kind="error">{message}</Notice> : null}
        {person ? (
          <>
            <h2 data-testid="quota-person">{person.email}</h2>
            <p>An empty field gives the person the operator's default again. Lowering a limit removes nothing: only new ones are refused.</p>
            <PostForm action={QUOTAS_PAGE} csrf={csrf} submit="Save" testId="quota-form">
              <input type="hidden" name="userId" value={person.userId} />
              {quotaKeys.map((key) => (
                <Field
                  name={key}
                  label={`${quotaNouns[key]} (default ${person.defaults[key]})`}
                  value={values?.[key] ?? (person.overrides[key] === undefined ? "" : String(person.overrides[key]))}
                  error={errors[key]}
                  autocomplete="off"
                />
              ))}
            </PostForm>
          </>
        ) : null}
      </div>
    </Layout>
  );
}

async function render(c: PageContext, user: AuthUser, lookup: string, feedback: Pick<View, "values" | "errors" | "message"> = {}, status: 400 | 404 | 200 = 200) {
  const base = { user, csrf: csrfToken(c), lookup, ...feedback };
  if (!lookup) return html(c, <QuotasPage {...base} />, status);
  const s = c.get("services");
  const found = z.uuid().safeParse(lookup).success ? { id: lookup } : await findUserByLogin(s.db, lookup);
  const person = found ? await personQuotas(s, found.id).catch(() => undefined) : undefined;
  if (!person) return html(c, <QuotasPage {...base} message={`nobody is ${lookup}`} />, 404);
  return html(c, <QuotasPage {...base} person={person} />, status);
}

// An empty field: back to the default (null).
const QuotaForm = z.preprocess(
  (input) => Object.fromEntries(Object.entries(input as Record<string, string>).map(([k, v]) => [k, v.trim() === "" ? null : v])),
  z.object({ userId: z.uuid() }).and(SetQuotasBody),
);

export const quotaPages = createRouter()
  .get(
    QUOTAS_PAGE,
    adminPage((c, user) => render(c, user, c.req.query("user")?.trim() ?? "")),
  )
  .post(
    QUOTAS_PAGE,
    adminPage((c, user) =>
      submitForm(
        c,
        (fields) => validateForm(QuotaForm, fields),
        async ({ userId, ...changes }) => {
          await setPersonQuotas(c.get("services"), personOf(c), userId, changes);
          return c.redirect(`${QUOTAS_PAGE}?user=${userId}`, 303);
        },
        (f, fields) => render(c, user, fields.userId ?? "", { values: fields, errors: f.errors, message: f.message }, f.status === 404 ? 404 : 400),
      ),
    ),
  );

import type { Child } from "hono/jsx";
import { createRouter } from "../app";
import type { AuthUser } from "../env";
import { actorOf } from "../audit/record";
import { clientIp } from "../middleware/client-ip";
import { csrfToken } from "../web/csrf";
import { readForm, submitForm, validateForm, type FieldErrors } from "../web/forms";
import { CsrfField, Field, Layout, Notice } from "../web/layout";
import { fieldsForm, html, mailLinkForm, signedInPage, type Rerender } from "../web/pages";
import { changeOwnPassword, deleteOwnAccount, signOutEverywhere } from "./requests";
import { ChangeEmailBody, ChangePasswordBody, ConfirmEmailBody, DeleteAccountBody, PasswordResetBody, PasswordResetConfirmBody } from "./schemas";
import { confirmEmailChange, confirmPasswordReset, requestEmailChange, requestPasswordReset } from "./service";

const ACCOUNT = "/kws_account";

const notices: Record<string, string> = {
  "password-changed": "Your password is changed. Your other sessions have ended; this one goes on.",
};

interface Feedback {
  values?: Record<string, string>;
  errors?: FieldErrors;
  message?: string;
}

/** A page for someone who is not signed in (they came from a mail or forgot their password). */
function Card({ title, children }: { title: string; children?: Child }) {
  return (
    <Layout title={title}>
      <div class="card">
        <h1>{title}</h1>
        {children}
      </div>
    </Layout>
  );
}

const Failure = ({ message }: { message?: string }) =>
  message ? (
    <Notice kind="error">
      <span data-testid="account-error">{message}</span>
    </Notice>
  ) : null;

function ForgotPage({ csrf, values = {}, errors = {}, message, sent }: Feedback & { csrf: string; sent?: boolean }) {
  return (
    <Card title="Forgot your password?">
      {sent ? (
        <Notice kind="ok">
          <span data-testid="account-sent">If that address has an account, a reset link is on its way. It works once, for 1 hour.</span>
        </Notice>
      ) : null}
      <Failure message={message} />
      <form method="post" action="/kws_forgot" novalidate>
        <CsrfField token={csrf} />
        <Field name="email" label="E-mail" type="email" autocomplete="email" value={values.email} error={errors.email} />
        <button type="submit">Send reset link</button>
      </form>
      <p class="alt">
        <a href="/kws_signin">Back to sign in</a>
      </p>
    </Card>
  );
}

function ResetPage({ csrf, token, errors = {}, message }: Feedback & { csrf: string; token: string }) {
  return (
    <Card title="Choose a new password">
      <Failure message={message} />
      <form method="post" action="/kws_reset" novalidate>
        <CsrfField token={csrf} />
        <input type="hidden" name="token" value={token} />
        <Field name="password" label="New password" type="password" autocomplete="new-password" error={errors.password} />
        <button type="submit">Set password</button>
      </form>
      <p class="alt">Setting it signs you out everywhere.</p>
    </Card>
  );
}

/** A link that cannot be used: what went wrong, and where to go instead. */
function LinkFailed({ title, message, retry }: { title: string; message: string; retry: Child }) {
  return (
    <Card title={title}>
      <Failure message={message} />
      <p class="alt">{retry}</p>
    </Card>
  );
}

function EmailConfirmPage({ csrf, token }: { csrf: string; token: string }) {
  return (
    <Card title="Confirm your new e-mail address">
      <p>Confirm to make this address the one of your KWS account.</p>
      <form method="post" action="/kws_email_confirm">
        <CsrfField token={csrf} />
        <input type="hidden" name="token" value={token} />
        <button type="submit" data-testid="confirm-email">Confirm</button>
      </form>
    </Card>
  );
}

type Section = "password" | "email" | "delete";

interface AccountView extends Feedback {
  user: AuthUser;
  csrf: string;
  section?: Section;
  notice?: string;
  sentTo?: string;
}

function AccountPage({ user, csrf, section, values = {}, errors = {}, message, notice, sentTo }: AccountView) {
  const here = (s: Section) => (section === s ? { errors, message } : { errors: {} as FieldErrors, message: undefined });
  const pw = here("password");
  const em = here("email");
  const del = here("delete");
  return (
    <Layout title="Account" user={user} csrf={csrf} wide forms>
      <div class="card">
        <h1>Account</h1>
        {notice && notices[notice] ? <Notice kind="ok">{notices[notice]}</Notice> : null}
        <dl>
          <dt>Username</dt>
          <dd>{user.username}</dd>
          <dt>E-mail</dt>
          <dd data-testid="account-email">{user.email}</dd>
        </dl>
      </div>
      <div class="card">
        <h1>Change password</h1>
        <Failure message={pw.message} />
        <form method="post" action={`${ACCOUNT}/password`} novalidate>
          <CsrfField token={csrf} />
          <Field name="currentPassword" label="Current password" type="password" autocomplete="current-password" error={pw.errors.currentPassword} />
          <Field name="newPassword" label="New password" type="password" autocomplete="new-password" error={pw.errors.newPassword} />
          <button type="submit">Change password</button>
        </form>
      </div>
      <div class="card">
        <h1>Change e-mail address</h1>
        {sentTo ? (
          <Notice kind="ok">
            <span data-testid="account-sent">We sent a link to {sentTo}. Your address changes once you confirm it there.</span>
          </Notice>
        ) : null}
        <Failure message={em.message} />
        <form method="post" action={`${ACCOUNT}/email`} novalidate>
          <CsrfField token={csrf} />
          <Field name="email" label="New e-mail" type="email" autocomplete="email" value={section === "email" ? values.email : undefined} error={em.errors.email} />
          <Field name="password" id="email-password" label="Password" type="password" autocomplete="current-password" error={em.errors.password} />
          <button type="submit">Send confirmation link</button>
        </form>
      </div>
      <div class="card">
        <h1>Sign out everywhere</h1>
        <p>Ends every session of your account, on every device, this one included. API tokens stay valid.</p>
        <form method="post" action={`${ACCOUNT}/logout-all`}>
          <CsrfField token={csrf} />
          <button type="submit">Sign out everywhere</button>
        </form>
      </div>
      <div class="card">
        <h1>Delete account</h1>
        <p>
          Removes your instance, WireGuard devices, PostgreSQL users and databases, API tokens and sessions, then the account. This
          cannot be undone.
        </p>
        <Failure message={del.message} />
        <form method="post" action={`${ACCOUNT}/delete`} novalidate data-confirm="Delete your account and everything in it?">
          <CsrfField token={csrf} />
          <Field name="password" id="delete-password" label="Password" type="password" autocomplete="current-password" error={del.errors.password} />
          <button type="submit">Delete my account</button>
        </form>
      </div>
    </Layout>
  );
}

/** The account page again with one form's feedback (passwords are never filled in again: Field leaves them out). */
const accountAgain =
  (section: Section): Rerender =>
  (c, user, { values, errors, message }, status) =>
    html(c, <AccountPage user={user} csrf={csrfToken(c)} section={section} values={values} errors={errors} message={message} />, status);

/** What a finished operation shows, and where to go next. */
function Done({ title, next, children }: { title: string; next: Child; children?: Child }) {
  return (
    <Card title={title}>
      <Notice kind="ok">
        <span data-testid="account-done">{children}</span>
      </Notice>
      <p class="alt">{next}</p>
    </Card>
  );
}

export const accountPages = createRouter()
  .get("/kws_forgot", (c) => html(c, <ForgotPage csrf={csrfToken(c)} />))
  .post(
    "/kws_forgot",
    mailLinkForm(ForgotPage, PasswordResetBody, (c, email) => requestPasswordReset(c.get("services"), c.get("log"), email, clientIp(c))),
  )
  .get("/kws_reset", (c) => html(c, <ResetPage csrf={csrfToken(c)} token={c.req.query("token") ?? ""} />))
  .post("/kws_reset", (c) =>
    submitForm(
      c,
      (fields) => validateForm(PasswordResetConfirmBody, fields),
      async ({ token, password }) => {
        await confirmPasswordReset(c.get("services"), c.get("log"), token, password, actorOf(c));
        return html(
          c,
          <Done title="Password set" next={<a href="/kws_signin">Sign in</a>}>
            Your new password is set, and every session of your account has ended.
          </Done>,
        );
      },
      (f, fields) => {
        // A field to correct shows the form again; a link that cannot be used says so.
        if (Object.keys(f.errors).length) return html(c, <ResetPage csrf={csrfToken(c)} token={fields.token ?? ""} errors={f.errors} message={f.errors.token} />, f.status);
        const retry = <a href="/kws_forgot">Ask for a new reset link</a>;
        return html(c, <LinkFailed title="Choose a new password" message={f.message ?? "this link cannot be used"} retry={retry} />, f.status);
      },
    ),
  )
  // The link opens a page with a button: a GET (a mail scanner following links) never changes anything.
  .get("/kws_email_confirm", (c) => html(c, <EmailConfirmPage csrf={csrfToken(c)} token={c.req.query("token") ?? ""} />))
  .post("/kws_email_confirm", (c) =>
    submitForm(
      c,
      (fields) => {
        const valid = validateForm(ConfirmEmailBody, fields);
        return valid.ok ? valid : { ok: false, status: 400, errors: {}, message: "this link is incomplete: open it from the mail again" };
      },
      async ({ token }) => {
        const email = await confirmEmailChange(c.get("services"), c.get("log"), token, actorOf(c));
        return html(c, <Done title="E-mail address changed" next={<a href="/">Dashboard</a>}>Your e-mail address is now {email}.</Done>);
      },
      (f) => {
        const retry = <a href={ACCOUNT}>Ask again from your account page</a>;
        return html(c, <LinkFailed title="Confirm your new e-mail address" message={f.message ?? "this link cannot be used"} retry={retry} />, f.status);
      },
    ),
  )
  .get(
    ACCOUNT,
    signedInPage((c, user) => html(c, <AccountPage user={user} csrf={csrfToken(c)} notice={c.req.query("notice")} />)),
  )
  .post(
    `${ACCOUNT}/password`,
    fieldsForm(accountAgain("password"), ChangePasswordBody, async (c, user, data) => {
      await changeOwnPassword(c, user, data);
      return c.redirect(`${ACCOUNT}?notice=password-changed`, 303);
    }),
  )
  .post(
    `${ACCOUNT}/email`,
    fieldsForm(accountAgain("email"), ChangeEmailBody, async (c, user, data) => {
      await requestEmailChange(c.get("services"), c.get("log"), user.id, data);
      return html(c, <AccountPage user={user} csrf={csrfToken(c)} sentTo={data.email} />);
    }),
  )
  .post(
    `${ACCOUNT}/logout-all`,
    signedInPage(async (c, user) => {
      await readForm(c);
      await signOutEverywhere(c, user);
      return c.redirect("/kws_signin?notice=signed-out", 303);
    }),
  )
  .post(
    `${ACCOUNT}/delete`,
    fieldsForm(accountAgain("delete"), DeleteAccountBody, async (c, user, data) => {
      await deleteOwnAccount(c, user, data.password);
      return html(
        c,
        <Done title="Account deleted" next={<a href="/kws_register">Create a new account</a>}>
          Your account and everything in it are deleted.
        </Done>,
      );
    }),
  );

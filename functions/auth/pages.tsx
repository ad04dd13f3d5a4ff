import { createRouter } from "../app";
import { actorOf } from "../audit/record";
import { clientIp } from "../middleware/client-ip";
import { csrfToken } from "../web/csrf";
import { readForm, submitForm, validateForm, type FieldErrors } from "../web/forms";
import { CsrfField, Field, Layout, Notice } from "../web/layout";
import { html, mailLinkForm } from "../web/pages";
import { sameHostPath } from "../web/redirects";
import { endSession, setSessionCookie } from "./cookies";
import { LoginBody, RegisterBody, ResendBody } from "./schemas";
import { login, register, resendVerification } from "./service";

const notices: Record<string, { kind: "info" | "error" | "ok"; text: string }> = {
  verified: { kind: "ok", text: "Your e-mail address is verified. Sign in to continue." },
  "verify-gone": { kind: "error", text: "That verification link was already used or has expired. Ask for a new one below." },
  "verify-unknown": { kind: "error", text: "That verification link is not valid. Ask for a new one below." },
  "signed-out": { kind: "info", text: "You are signed out." },
  "signin-required": { kind: "info", text: "Sign in to see your dashboard." },
};

interface RegisterView {
  values?: Record<string, string>;
  errors?: FieldErrors;
  message?: string;
}

function RegisterPage({ csrf, values = {}, errors = {}, message }: RegisterView & { csrf: string }) {
  return (
    <Layout title="Create an account">
      <div class="card">
        <h1>Create your KWS account</h1>
        {message ? <Notice kind="error">{message}</Notice> : null}
        <form method="post" action="/kws_register" novalidate>
          <CsrfField token={csrf} />
          <Field name="email" label="E-mail" type="email" autocomplete="email" value={values.email} error={errors.email} />
          <Field name="username" label="Username" autocomplete="username" value={values.username} error={errors.username} />
          <Field name="firstName" label="First name" autocomplete="given-name" value={values.firstName} error={errors.firstName} />
          <Field name="lastName" label="Last name" autocomplete="family-name" value={values.lastName} error={errors.lastName} />
          <Field name="password" label="Password" type="password" autocomplete="new-password" error={errors.password} />
          <button type="submit">Create account</button>
        </form>
        <p class="alt">
          Already have an account? <a href="/kws_signin">Sign in</a>
        </p>
      </div>
    </Layout>
  );
}

function SignInPage({
  csrf,
  values = {},
  errors = {},
  message,
  notice,
  unverified,
  next,
}: RegisterView & { csrf: string; notice?: string; unverified?: boolean; next?: string }) {
  const n = notice ? notices[notice] : undefined;
  return (
    <Layout title="Sign in">
      <div class="card">
        <h1>Sign in to KWS</h1>
        {n ? <Notice kind={n.kind}>{n.text}</Notice> : null}
        {message ? <Notice kind="error">{message}</Notice> : null}
        <form method="post" action="/kws_signin" novalidate>
          <CsrfField token={csrf} />
          {next ? <input type="hidden" name="next" value={next} /> : null}
          <Field name="username" label="Username or e-mail" autocomplete="username" value={values.username} error={errors.username} />
          <Field name="password" label="Password" type="password" autocomplete="current-password" error={errors.password} />
          <button type="submit">Sign in</button>
        </form>
        <p class="alt">
          New here? <a href="/kws_register">Create an account</a>. <a href="/kws_forgot">Forgot your password?</a>{" "}
          {unverified || notice?.startsWith("verify-") ? <a href="/kws_resend">Send a new verification link</a> : null}
        </p>
      </div>
    </Layout>
  );
}

function ResendPage({ csrf, values = {}, errors = {}, message, sent }: RegisterView & { csrf: string; sent?: boolean }) {
  return (
    <Layout title="New verification link">
      <div class="card">
        <h1>Send a new verification link</h1>
        {sent ? <Notice kind="ok">If that address has an unverified account, a new link is on its way.</Notice> : null}
        {message ? <Notice kind="error">{message}</Notice> : null}
        <form method="post" action="/kws_resend" novalidate>
          <CsrfField token={csrf} />
          <Field name="email" label="E-mail" type="email" autocomplete="email" value={values.email} error={errors.email} />
          <button type="submit">Send link</button>
        </form>
      </div>
    </Layout>
  );
}

function CheckEmailPage() {
  return (
    <Layout title="Check your e-mail">
      <div class="card">
        <h1>Check your e-mail</h1>
        <p>
          We sent you a link to verify your address. Open it to activate your account; it works once and
          expires in 24 hours.
        </p>
        <p class="alt">
          No mail? <a href="/kws_resend">Send a new link</a> · <a href="/kws_signin">Sign in</a>
        </p>
      </div>
    </Layout>
  );
}

export const authPages = createRouter()
  .get("/kws_register", (c) => html(c, <RegisterPage csrf={csrfToken(c)} />))
  .post("/kws_register", (c) =>
    submitForm(
      c,
      (fields) => validateForm(RegisterBody, fields),
      async (body) => {
        await register(c.get("services"), c.get("log"), body, actorOf(c));
        return c.redirect("/kws_check_email", 303);
      },
      (f, fields) => html(c, <RegisterPage csrf={csrfToken(c)} values={fields} errors={f.errors} message={f.message} />, f.status),
    ),
  )
  .get("/kws_check_email", (c) => html(c, <CheckEmailPage />))
  .get("/kws_signin", (c) => {
    // Where to go after signing in (an app host's sign-in passes through here): this site's paths only.
    const next = sameHostPath(c.req.query("next"));
    if (c.get("auth")) return c.redirect(next ?? "/", 303);
    return html(c, <SignInPage csrf={csrfToken(c)} notice={c.req.query("notice") ?? (next ? "signin-required" : undefined)} next={next} />);
  })
  .post("/kws_signin", (c) =>
    submitForm(
      c,
      (fields) => validateForm(LoginBody, fields),
      async (body, fields) => {
        const { sessionToken } = await login(c.get("services"), c.get("log"), body, clientIp(c));
        setSessionCookie(c, sessionToken);
        return c.redirect(sameHostPath(fields.next) ?? "/", 303);
      },
      (f, fields) =>
        html(
          c,
          <SignInPage
            csrf={csrfToken(c)}
            values={fields}
            errors={f.errors}
            message={f.message}
            unverified={f.code === "unverified"}
            next={sameHostPath(fields.next)}
          />,
          f.status,
        ),
    ),
  )
  .post("/kws_signout", async (c) => {
    await readForm(c);
    await endSession(c);
    return c.redirect("/kws_signin?notice=signed-out", 303);
  })
  .get("/kws_resend", (c) => html(c, <ResendPage csrf={csrfToken(c)} />))
  .post(
    "/kws_resend",
    mailLinkForm(ResendPage, ResendBody, (c, email) => resendVerification(c.get("services"), c.get("log"), email, clientIp(c))),
  );

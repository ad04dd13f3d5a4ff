import { AppError } from "../core/errors";
import { createRouter } from "../app";
import { actorOf } from "../audit/record";
import { csrfToken } from "../web/csrf";
import { readForm } from "../web/forms";
import { CsrfField, Layout } from "../web/layout";
import { VerifyQuery } from "./schemas";
import { verificationTarget, verifyEmail } from "./service";

/**
 * The mailed link opens this page, which verifies only when its button is pressed: mail scanners
 * and link previews follow links with GET, and must not verify an account for whoever made it.
 * Served by the Node control plane and the edge alike (the mail of either points here).
 */

function VerifyPage({ csrf, token, email, username }: { csrf: string; token: string; email: string; username: string }) {
  return (
    <Layout title="Verify your e-mail address">
      <div class="card">
        <h1>Verify your e-mail address</h1>
        <p>
          Verify <strong data-testid="verify-email">{email}</strong> for the KWS account{" "}
          <strong data-testid="verify-username">{username}</strong>?
        </p>
        <form method="post" action="/kws_verify">
          <CsrfField token={csrf} />
          <input type="hidden" name="token" value={token} />
          <button type="submit">Verify my address</button>
        </form>
        <p class="alt">
          Did not create the account {username}? Do not verify it: <a href="/kws_register">sign up</a> with this address
          and your own password instead, which replaces it.
        </p>
      </div>
    </Layout>
  );
}

/** Where a link that cannot be used sends the browser: the sign-in page says why. */
function noticeFor(err: unknown): string {
  if (!(err instanceof AppError)) throw err;
  if (err.code === "gone") return "verify-gone";
  if (err.code === "not_found" || err.code === "invalid") return "verify-unknown";
  throw err;
}

export const verifyPages = createRouter()
  .get("/kws_verify", async (c) => {
    const query = VerifyQuery.safeParse({ token: c.req.query("token") });
    if (!query.success) return c.redirect("/kws_signin?notice=verify-unknown", 303);
    try {
      const target = await verificationTarget(c.get("services"), query.data.token);
      return c.html(<VerifyPage csrf={csrfToken(c)} token={query.data.token} {...target} />);
    } catch (err) {
      return c.redirect(`/kws_signin?notice=${noticeFor(err)}`, 303);
    }
  })
  .post("/kws_verify", async (c) => {
    const query = VerifyQuery.safeParse(await readForm(c));
    if (!query.success) return c.redirect("/kws_signin?notice=verify-unknown", 303);
    try {
      await verifyEmail(c.get("services"), c.get("log"), query.data.token, actorOf(c));
    } catch (err) {
      return c.redirect(`/kws_signin?notice=${noticeFor(err)}`, 303);
    }
    return c.redirect("/kws_signin?notice=verified", 303);
  });

import type { ContentfulStatusCode } from "hono/utils/http-status";
import { createRouter } from "../app";
import type { AuthUser } from "../env";
import { formFailure } from "../web/forms";
import { csrfToken } from "../web/csrf";
import { CsrfField, Field, Layout, Notice } from "../web/layout";
import { fieldsForm, html, type PageContext } from "../web/pages";
import { DecisionForm } from "./schemas";
import { decideDeviceLogin, waitingLogin } from "./service";

const PAGE = "/kws_device";

type Waiting = Awaited<ReturnType<typeof waitingLogin>>;

interface View {
  user: AuthUser;
  csrf: string;
  /** The sign-in the typed code belongs to: ask to approve it. */
  waiting?: Waiting;
  code?: string;
  message?: string;
  decided?: "approve" | "deny";
}

function DevicePage({ user, csrf, waiting, code, message, decided }: View) {
  return (
    <Layout title="Sign in a device" user={user} csrf={csrf}>
      <div class="card">
        <h1>Sign in the kws command line</h1>
        {message ? <Notice kind="error">{message}</Notice> : null}
        {decided ? (
          <Notice kind={decided === "approve" ? "ok" : "info"}>
            <span data-testid="device-decided">
              {decided === "approve" ? "Approved: the command line is signed in as you. Go back to your terminal." : "Denied: the command line was not signed in."}
            </span>
          </Notice>
        ) : waiting ? (
          <>
            <p>
              <strong>{waiting.clientName}</strong> (from {waiting.clientIp}) asks to act as <strong>{user.username}</strong> with a new API token.
            </p>
            <p>
              Approve only if your terminal shows this code: <code data-testid="device-code">{waiting.userCode}</code>
            </p>
            <form method="post" action={PAGE}>
              <CsrfField token={csrf} />
              <input type="hidden" name="code" value={waiting.userCode} />
              <button type="submit" name="decision" value="approve" data-testid="device-approve">
                Approve
              </button>{" "}
              <button type="submit" name="decision" value="deny" class="link" data-testid="device-deny">
                Deny
              </button>
            </form>
          </>
        ) : (
          <form method="get" action={PAGE}>
            <Field name="code" label="The code your terminal shows (e.g. BDFG-HJKL)" value={code} autocomplete="off" />
            <button type="submit" data-testid="device-lookup">
              Continue
            </button>
          </form>
        )}
      </div>
    </Layout>
  );
}

const render = (c: PageContext, view: Omit<View, "csrf">, status: ContentfulStatusCode = 200) => html(c, <DevicePage {...view} csrf={csrfToken(c)} />, status);

export const cliLoginPages = createRouter()
  .get(PAGE, async (c) => {
    const user = c.get("auth")?.user;
    // Signed out: sign in, then back here with the code (verification_uri_complete carries it).
    if (!user) return c.redirect(`/kws_signin?next=${encodeURIComponent(`${PAGE}${new URL(c.req.url).search}`)}`, 303);
    const code = c.req.query("code");
    if (!code) return render(c, { user });
    try {
      return render(c, { user, waiting: await waitingLogin(c.get("services"), user.id, code) });
    } catch (err) {
      const failure = formFailure(err);
      return render(c, { user, code, message: failure.message ?? Object.values(failure.errors)[0] }, failure.status);
    }
  })
  .post(
    PAGE,
    fieldsForm(
      (c, user, feedback, status) => render(c, { user, code: feedback.values?.code, message: feedback.message ?? Object.values(feedback.errors ?? {})[0] }, status),
      DecisionForm,
      async (c, user, data) => {
        await decideDeviceLogin(c.get("services"), user.id, data, c.get("log"));
        return render(c, { user, decided: data.decision });
      },
    ),
  );

import type { IncomingMessage } from "node:http";
import type { Child } from "hono/jsx";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { actorOf } from "../audit/record";
import { AppError } from "../core/errors";
import { labelOfHost } from "./names";
import { getJob, isFinal } from "../core/jobs/store";
import { createApp, type ServiceProvider } from "../app";
import { instanceAction } from "../instances/service";
import { csrfToken } from "../web/csrf";
import { formFailure, readForm } from "../web/forms";
import { CsrfField } from "../web/layout";
import type { PageContext } from "../web/pages";
import { sameHostPath } from "../web/redirects";
import { identify } from "./access";
import { randomToken } from "../../shared/crypto/tokens";
import { APP_COOKIE, GRANT_TTL_SECONDS, issueGrant, STATE_COOKIE, takeCode } from "./grants";
import { outcomes, outcomeStatus, type Outcome } from "./outcome";
import { resolveLabel } from "./resolve";

// Inline: on an app host every other path belongs to the app, stylesheets included.
const STYLE = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#f3f3f3;padding:0 .2em}button{font:inherit;padding:.4em 1em}";

function HostPage({ title, refresh, children }: { title: string; refresh?: boolean; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        {refresh ? <meta http-equiv="refresh" content="3" /> : null}
        <title>{`${title} · KWS`}</title>
        <style>{STYLE}</style>
      </head>
      <body>
        <h1>{title}</h1>
        {children}
      </body>
    </html>
  );
}

/** Host-only (no Domain), out of scripts' reach, sent on top-level navigations from elsewhere. */
const hostCookie = (c: PageContext) => ({ httpOnly: true, sameSite: "Lax" as const, secure: c.get("services").config.appsUrl.startsWith("https:") });
const incoming = (c: PageContext) => (c.env as { incoming: IncomingMessage }).incoming;
const labelOf = (c: PageContext) => labelOfHost(c.get("services").config.appsUrl, c.req.header("host"));
const page = (c: PageContext, status: ContentfulStatusCode, title: string, body: Child, refresh = false) =>
  c.html((<HostPage title={title} refresh={refresh}>{body}</HostPage>) as never, status);

async function stoppedPage(c: PageContext, o: Extract<Outcome, { kind: "stopped" }>) {
  const { dest, visitor } = o;
  const job = dest.instanceJobId ? await getJob(c.get("services").db, dest.instanceJobId) : undefined;
  const busy = job !== undefined && !isFinal(job.status);
  const owner = typeof visitor === "object" && visitor.userId === dest.ownerId;
  const what = dest.kind === "ide" ? "This instance" : "The instance behind this app";
  return page(
    c,
    503,
    busy ? "The instance is starting" : "The instance is not running",
    <>
      <p data-testid="instance-stopped">
        {what} is {busy ? `busy (${job.kind})` : dest.instanceState}. {busy ? "This page reloads by itself." : ""}
      </p>
      {owner && !busy && dest.instanceState === "stopped" ? (
        <form method="post" action="/.kws/start">
          <CsrfField token={csrfToken(c)} />
          <button type="submit" data-testid="start-instance">
            Start it
          </button>
        </form>
      ) : null}
    </>,
    busy,
  );
}

function renderOutcome(c: PageContext, o: Outcome) {
  const { publicUrl } = c.get("services").config;
  switch (o.kind) {
    case "not_found":
      return page(c, 404, "Nothing here", <p>No instance or app is published as <code>{o.label}</code>.</p>);
    case "sign_in": {
      const state = randomToken();
      setCookie(c, STATE_COOKIE, state, { ...hostCookie(c), path: "/.kws/", maxAge: 600 });
      return c.redirect(`${publicUrl}/kws_authorize_app?label=${encodeURIComponent(o.label)}&path=${encodeURIComponent(o.path)}&state=${state}`, 302);
    }
    case "unauthorized":
      throw new AppError("unauthorized", o.message);
    case "forbidden":
      return page(c, 403, "Not yours", <p>Your KWS account has no access to <code>{o.label}</code>: its owner keeps it to themselves.</p>);
    case "stopped":
      return stoppedPage(c, o);
    case "unreachable":
      return page(
        c,
        outcomeStatus(o) as ContentfulStatusCode,
        o.reason === "host_offline" ? "The instance's host is offline" : "The app does not answer",
        o.reason === "host_offline" ? (
          <p>The host that runs this instance is not connected to KWS right now. Try again in a minute.</p>
        ) : (
          <p data-testid="unreachable-port">
            Nothing answers on port <code>{o.dest.target.port}</code> of the instance ({o.reason}). Start the server there, listening on all
            addresses.
          </p>
        ),
      );
  }
}

/**
 * The pages of app hosts: the sign-in callback, the Start button of a stopped instance, and the
 * answers for requests the router does not proxy (the outcome it decided travels with the request).
 */
export function hostPages(provide: ServiceProvider) {
  return createApp(provide)
    .get("/.kws/callback", async (c) => {
      const label = labelOf(c);
      const code = c.req.query("code");
      const { kv } = c.get("services");
      const taken = label && code ? await takeCode(kv, code, label, getCookie(c, STATE_COOKIE)) : undefined;
      deleteCookie(c, STATE_COOKIE, { path: "/.kws/" });
      if (!label || !taken) {
        return page(c, 400, "This sign-in link is used up", <p>It works once, for a minute. <a href="/">Open the page again</a> to sign in anew.</p>);
      }
      setCookie(c, APP_COOKIE, await issueGrant(kv, { userId: taken.userId, label }), { ...hostCookie(c), path: "/", maxAge: GRANT_TTL_SECONDS });
      return c.redirect(sameHostPath(taken.path) ?? "/", 303);
    })
    .post("/.kws/start", async (c) => {
      await readForm(c);
      const label = labelOf(c);
      const s = c.get("services");
      const dest = label ? await resolveLabel(s.db, label) : undefined;
      const visitor = dest ? await identify(s, incoming(c), dest.label) : "anonymous";
      if (!dest || typeof visitor !== "object" || visitor.userId !== dest.ownerId) {
        return page(c, 403, "Not yours", <p>Only the instance's owner can start it.</p>);
      }
      try {
        // The owner, known by their app grant rather than a control-plane sign-in.
        await instanceAction(s, { ...actorOf(c), kind: "person", userId: visitor.userId }, "start");
      } catch (err) {
        const f = formFailure(err);
        return page(c, f.status, "The instance did not start", <p>{f.message ?? "Try again."}</p>);
      }
      return c.redirect("/", 303);
    })
    .all("*", (c) => {
      const o = outcomes.get(incoming(c));
      if (!o) return page(c, 404, "Nothing here", <p>This address is not a KWS page.</p>);
      return renderOutcome(c, o);
    });
}

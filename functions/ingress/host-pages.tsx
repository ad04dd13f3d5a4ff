import type { IncomingMessage } from "node:http";
import type { Child } from "hono/jsx";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { actorOf } from "../audit/record";
import { AppError } from "../core/errors";
import { customDomainOfHost, labelOfHost } from "./names";
import { getJob, isFinal } from "../core/jobs/store";
import { createApp, type ServiceProvider } from "../app";
import { wakeInstance } from "../idle/service";
import { formFailure } from "../web/forms";
import type { PageContext } from "../web/pages";
import { sameHostPath } from "../web/redirects";
import { randomToken } from "../../shared/crypto/tokens";
import { APP_COOKIE, GRANT_TTL_SECONDS, issueGrant, STATE_COOKIE, takeCode } from "./grants";
import { outcomes, outcomeStatus, type Outcome } from "./outcome";

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
/** The site of the request's host: an app host's label or a custom domain. */
const siteOf = (c: PageContext) => {
  const { config } = c.get("services");
  const host = c.req.header("host");
  return labelOfHost(config.appsUrl, host) ?? customDomainOfHost(config, host);
};
const page = (c: PageContext, status: ContentfulStatusCode, title: string, body: Child, refresh = false) =>
  c.html((<HostPage title={title} refresh={refresh}>{body}</HostPage>) as never, status);

/** After a start failed, an address opened again within this time shows why instead of starting again at once. */
const RETRY_FAILED_START_MS = 60_000;

/**
 * Wake on access: a stopped instance is started (through the normal start job) for a request the
 * access level let through, and the page reloads until the instance answers, then shows it.
 */
async function stoppedPage(c: PageContext, { dest }: Extract<Outcome, { kind: "stopped" }>) {
  const s = c.get("services");
  const latest = dest.instanceJobId ? await getJob(s.db, dest.instanceJobId) : undefined;
  const failedStart = latest?.kind === "instance.start" && latest.status === "failed" && Date.now() - (latest.finishedAt?.getTime() ?? 0) < RETRY_FAILED_START_MS;
  let busy = latest !== undefined && !isFinal(latest.status) ? latest.kind : undefined;
  if (!busy && !failedStart && dest.instanceState === "stopped") {
    try {
      const job = await wakeInstance(s, dest.ownerId);
      c.get("log").info("instance woken on access", { label: dest.label, ...(job ? { jobId: job.id } : {}) });
      busy = "instance.start";
    } catch (err) {
      return page(c, 503, "The instance did not start", <p>{formFailure(err).message ?? "Try again."}</p>);
    }
  }
  const what = dest.kind === "ide" ? "This instance" : "The instance behind this app";
  if (busy) {
    c.header("retry-after", "5");
    return page(
      c,
      503,
      busy === "instance.start" ? "Starting…" : "The instance is busy",
      <p data-testid={busy === "instance.start" ? "instance-starting" : "instance-busy"}>
        {busy === "instance.start" ? `${what} was stopped and is starting now.` : `${what} is busy (${busy}).`} This page reloads by itself until it answers.
      </p>,
      true,
    );
  }
  return page(
    c,
    503,
    "The instance is not running",
    <p data-testid="instance-stopped">
      {failedStart ? `${what} did not start: ${latest.error?.message ?? "its start failed"}. Open this address again in a minute to try again.` : `${what} is ${dest.instanceState}.`}
    </p>,
  );
}

function renderOutcome(c: PageContext, o: Outcome) {
  const { publicUrl } = c.get("services").config;
  switch (o.kind) {
    case "not_found":
      return page(c, 404, "Nothing here", <p>No instance, app or tunnel is published as <code>{o.label}</code>.</p>);
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
        o.dest.kind === "tunnel"
          ? o.reason === "host_offline"
            ? "The tunnel is reconnecting"
            : "The tunnel's server does not answer"
          : o.reason === "host_offline"
            ? "The instance's host is offline"
            : "The app does not answer",
        o.dest.kind === "tunnel" ? (
          <p data-testid="unreachable-port">
            {o.reason === "host_offline" ? (
              "The kws tunnel serving this name lost its connection; it is coming back. Try again in a few seconds."
            ) : (
              <>
                Nothing answers on port <code>{o.dest.target.port}</code> of the machine running <code>kws tunnel</code> ({o.reason}).
              </>
            )}
          </p>
        ) : o.reason === "host_offline" ? (
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
 * The pages of app hosts: the sign-in callback, and the answers for requests the router does not
 * proxy (a stopped instance's is the starting page of wake on access) (the outcome it decided travels with the request).
 */
export function hostPages(provide: ServiceProvider) {
  return createApp(provide)
    .get("/.kws/callback", async (c) => {
      const label = siteOf(c);
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
    .all("*", (c) => {
      const o = outcomes.get(incoming(c));
      if (!o) return page(c, 404, "Nothing here", <p>This address is not a KWS page.</p>);
      return renderOutcome(c, o);
    });
}

import type { z } from "zod";
import { createRouter } from "../app";
import type { AuthUser } from "../env";
import { csrfToken } from "../web/csrf";
import { validateForm } from "../web/forms";
import { ItemTable, Layout, Notice } from "../web/layout";
import { adminPage } from "../web/admin";
import { html, type PageContext, signedInPage } from "../web/pages";
import { presentAuditEvent } from "./present";
import { AdminAuditQuery, type AuditEventJson, OwnAuditQuery } from "./schemas";
import { auditPage } from "./service";

export const OWN_PAGE = "/kws_audit";
/** The administrators' log; the admin pages link here. */
export const ADMIN_PAGE = "/kws_admin/audit";

const FILTERS = {
  own: [
    ["action", "Action (device.add, or device. for all)"],
    ["from", "From (ISO time)"],
    ["to", "To (ISO time)"],
  ],
  admin: [
    ["actor", "Actor (id, e-mail, username, system, anonymous)"],
    ["action", "Action (device.add, or device. for all)"],
    ["target", "Target (device, or device:ID)"],
    ["from", "From (ISO time)"],
    ["to", "To (ISO time)"],
  ],
} as const;

interface View {
  user: AuthUser;
  csrf: string;
  admin: boolean;
  values: Record<string, string>;
  events: AuditEventJson[];
  next?: string;
  message?: string;
}

const who = (e: AuditEventJson) => (e.actor.userId ? `${e.actor.kind} ${e.actor.userId}` : e.actor.kind);

function AuditPage({ user, csrf, admin, values, events, next, message }: View) {
  const path = admin ? ADMIN_PAGE : OWN_PAGE;
  return (
    <Layout title={admin ? "Audit log (all)" : "Audit log"} user={user} csrf={csrf} wide>
      <div class="card">
        <h1>{admin ? "Audit log of everyone" : "Your audit log"}</h1>
        <p>{admin ? "Every change, by whom, from where, and how it ended." : "What you and your API tokens changed, and what was changed of yours."}</p>
        {message ? <Notice kind="error">{message}</Notice> : null}
        <form method="get" action={path} data-testid="audit-filters">
          {FILTERS[admin ? "admin" : "own"].map(([name, label]) => (
            <div>
              <label for={name}>{label}</label>
              <input id={name} name={name} value={values[name] ?? ""} autocomplete="off" />
            </div>
          ))}
          <button type="submit">Filter</button>
        </form>
        <ItemTable
          items={events}
          testId="audit-events"
          head={["Time", "Actor", "Action", "Target", "Outcome", "Address", "Request"]}
          empty={<p data-testid="no-events">No events.</p>}
          row={(e) => (
            <tr data-action={e.action} data-outcome={e.outcome}>
              <td>{e.at}</td>
              <td>{who(e)}</td>
              <td>{e.action}</td>
              <td>{e.target ? `${e.target.type}:${e.target.id}` : ""}</td>
              <td data-cell="outcome">{e.outcome}</td>
              <td data-cell="ip">{e.ip ?? ""}</td>
              <td>
                <code>{e.requestId ?? ""}</code>
              </td>
            </tr>
          )}
        />
        {next ? (
          <p>
            <a data-testid="older" href={`${path}?${new URLSearchParams({ ...values, cursor: next }).toString()}`}>
              Older events
            </a>
          </p>
        ) : null}
      </div>
    </Layout>
  );
}

/** The filters of the query string (empty fields are no filter), the page of events they select. */
async function render(c: PageContext, user: AuthUser, admin: boolean) {
  const values = Object.fromEntries(Object.entries(c.req.query()).filter(([, v]) => v.trim() !== ""));
  const schema: z.ZodType<z.output<typeof AdminAuditQuery>, unknown> = admin ? AdminAuditQuery : OwnAuditQuery;
  const parsed = validateForm(schema, values);
  const base = { user, csrf: csrfToken(c), admin, values: Object.fromEntries(Object.entries(values).filter(([k]) => k !== "cursor")) };
  if (!parsed.ok) {
    return html(c, <AuditPage {...base} events={[]} message={Object.entries(parsed.errors).map(([k, v]) => `${k}: ${v}`).join("; ")} />, 400);
  }
  const page = await auditPage(c.get("services"), parsed.data, admin ? undefined : user.id);
  return html(c, <AuditPage {...base} events={page.events.map((e) => presentAuditEvent(e, admin ? undefined : user.id))} next={page.nextCursor ?? undefined} />);
}

export const auditPages = createRouter()
  .get(OWN_PAGE, signedInPage((c, user) => render(c, user, false)))
  .get(
    ADMIN_PAGE,
    adminPage((c, user) => render(c, user, true)),
  );

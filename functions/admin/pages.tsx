import { personOf } from "../audit/record";
import type { MiddlewareHandler } from "hono";
import type { Child } from "hono/jsx";
import { z } from "zod";
import type { Host } from "../../shared/db/schema";
import { createRouter } from "../app";
import { AppError } from "../core/errors";
import type { AppEnv, AuthUser } from "../env";
import { registerHost } from "../hosts/enrollment";
import { presentHost } from "../hosts/present";
import { CreateHostBody } from "../hosts/schemas";
import { listHosts, setDraining } from "../hosts/store";
import { csrfToken } from "../web/csrf";
import { namesOne, type FieldErrors } from "../web/forms";
import { CsrfField, Field, ItemTable, Layout, Notice, PostForm } from "../web/layout";
import { buttonForm, fieldsForm, html, pageOf, signedInPage, thenGo, type PageContext } from "../web/pages";
import { instancesByHost, type HostInstanceRow } from "./queries";
import type { PersonJson } from "./service";
import { findPeople, listFailedJobs, redrive, suspendPerson, unsuspendPerson } from "./service";

const BASE = "/kws_admin";
const HOSTS = `${BASE}/hosts`;
const PEOPLE = `${BASE}/people`;
const JOBS = `${BASE}/jobs`;
/** Per-person quota overrides live on a page of their own (the quotas capability). */
const QUOTAS = `${BASE}/quotas`;

const SECTIONS = [
  [HOSTS, "Hosts"],
  [PEOPLE, "People"],
  [JOBS, "Jobs"],
  [QUOTAS, "Quotas"],
] as const;

/** The admin pages' frame: the layout with the admin navigation above the section. */
function AdminLayout({ title, user, csrf, current, children }: { title: string; user: AuthUser; csrf: string; current: string; children: Child }) {
  return (
    <Layout title={`Admin: ${title}`} user={user} csrf={csrf} wide forms>
      <nav class="card" data-testid="admin-nav">
        {SECTIONS.map(([href, label]) => (href === current ? <strong>{label} </strong> : <a href={href}>{label} </a>))}
      </nav>
      <div class="card">
        <h1>{title}</h1>
        {children}
      </div>
    </Layout>
  );
}

/** Every admin page and form: signed-out visitors go to sign-in, people who are not administrators get 403. */
const adminsOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  const user = c.get("auth")?.user;
  if (!user) return c.redirect("/kws_signin?notice=signin-required", 303);
  if (!user.isAdmin) {
    return html(
      c,
      <Layout title="Administrators only" user={user} csrf={csrfToken(c)}>
        <div class="card">
          <h1>Administrators only</h1>
          <Notice kind="error">This page is for the administrators of this KWS (KWS_ADMINS).</Notice>
        </div>
      </Layout>,
      403,
    );
  }
  await next();
};

interface Feedback {
  values?: Record<string, string>;
  errors?: FieldErrors;
  message?: string;
}

// Hosts

interface HostsView extends Feedback {
  user: AuthUser;
  csrf: string;
  hosts: Host[];
  instances: HostInstanceRow[];
  heartbeatMs: number;
  publicUrl: string;
  /** Just registered: the command line to run on the new host, shown once. */
  enrolled?: { name: string; token: string };
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

/** What an operator runs on the new host: the agent, enrolled with the one-time token. */
const enrollCommand = (publicUrl: string, token: string) => `npm run agent -- --gateway ${publicUrl} --enroll ${token}`;

function HostsPage({ user, csrf, hosts, instances, heartbeatMs, publicUrl, enrolled, values = {}, errors = {}, message }: HostsView) {
  return (
    <AdminLayout title="Hosts" user={user} csrf={csrf} current={HOSTS}>
      {message ? <Notice kind="error">{message}</Notice> : null}
      {enrolled ? (
        <Notice kind="ok">
          <p>
            Host {enrolled.name} registered. On it (as root, after <code>bash scripts/host-setup.sh</code>), run once within the hour:
          </p>
          <input id="enroll-command" readonly value={enrollCommand(publicUrl, enrolled.token)} data-select data-testid="enroll-command" />
          <button type="button" data-copy="enroll-command">
            Copy
          </button>
          <p>The token works once and is not shown again.</p>
        </Notice>
      ) : null}
      <ItemTable
        items={hosts.map((h) => presentHost(h, heartbeatMs))}
        testId="host-list"
        head={["Host", "State", "Versions", "Facts", "Instances", ""]}
        empty={<p data-testid="no-hosts">No hosts yet.</p>}
        row={(h) => (
          <tr data-host={h.name}>
            <td>
              {h.name}
              {h.publicAddress ? <div>{h.publicAddress}</div> : null}
            </td>
            <td data-cell="state">
              {h.state}
              {h.enrolled ? null : <div>not enrolled</div>}
              {h.degradedReason ? <div class="error">{h.degradedReason}</div> : null}
              {h.lastHeartbeatAt ? <div>heartbeat {h.lastHeartbeatAt}</div> : null}
            </td>
            <td>
              agent {h.agentVersion ?? "-"}
              <div>LXD {h.lxdVersion ?? "-"}</div>
            </td>
            <td>
              {h.facts ? (
                <>
                  {h.facts.cpus} CPUs, {gib(h.facts.memoryBytes)} memory, {gib(h.facts.diskFreeBytes)} disk free
                  <div>
                    {h.facts.runningInstances} of {h.facts.instances} containers running
                  </div>
                  {h.facts.wireguard ? (
                    <div>
                      WireGuard {h.facts.wireguard.interface} {h.facts.wireguard.address}
                    </div>
                  ) : null}
                </>
              ) : (
                "none yet"
              )}
            </td>
            <td data-cell="instances">
              {instances
                .filter((i) => i.hostId === h.id)
                .map((i) => (
                  <div>
                    {i.name} ({i.username}, {i.state})
                  </div>
                ))}
            </td>
            <td>
              <form method="post" action={`${HOSTS}/${h.draining ? "undrain" : "drain"}`} class="inline">
                <CsrfField token={csrf} />
                <input type="hidden" name="id" value={h.id} />
                <button type="submit" data-testid={`${h.draining ? "undrain" : "drain"}-${h.name}`}>
                  {h.draining ? "Undrain" : "Drain"}
                </button>
              </form>
            </td>
          </tr>
        )}
      />
      <h2>Enroll a new host</h2>
      <PostForm action={HOSTS} csrf={csrf} submit="Register" testId="host-create">
        <Field name="name" label="Name" value={values.name} error={errors.name} autocomplete="off" />
      </PostForm>
    </AdminLayout>
  );
}

const loadHosts = async (c: PageContext) => {
  const s = c.get("services");
  const [hosts, instances] = await Promise.all([listHosts(s.db), instancesByHost(s.db)]);
  return { hosts, instances, heartbeatMs: s.config.heartbeatMs, publicUrl: s.config.publicUrl };
};
const renderHosts = pageOf<Awaited<ReturnType<typeof loadHosts>>, HostsView>(loadHosts, (view) => <HostsPage {...view} />);

const hostNamed = namesOne("id", z.uuid(), "no such host");

/** Drain or undrain, then back to the hosts page. */
const draining = (drain: boolean) =>
  thenGo<string>(HOSTS, async (s, _userId, id) => {
    if (!(await setDraining(s.db, id, drain))) throw new AppError("not_found", "no such host");
  });

// People

interface PeopleView extends Feedback {
  user: AuthUser;
  csrf: string;
  people: PersonJson[];
  q: string;
}

function personState(p: PersonJson) {
  if (p.suspendedAt) return "suspended";
  return p.verified ? "active" : "unverified";
}

function PersonButton({ csrf, person, action, q }: { csrf: string; person: PersonJson; action: "suspend" | "unsuspend"; q: string }) {
  return (
    <form method="post" action={`${PEOPLE}/${action}`} class="inline" data-confirm={action === "suspend" ? `Suspend ${person.username}? Their sessions and tokens end and their instance stops.` : undefined}>
      <CsrfField token={csrf} />
      <input type="hidden" name="id" value={person.id} />
      <input type="hidden" name="q" value={q} />
      <button type="submit" data-testid={`${action}-${person.username}`}>
        {action === "suspend" ? "Suspend" : "Unsuspend"}
      </button>
    </form>
  );
}

function PeoplePage({ user, csrf, people, q, message }: PeopleView) {
  return (
    <AdminLayout title="People" user={user} csrf={csrf} current={PEOPLE}>
      <form method="get" action={PEOPLE}>
        <label for="q">E-mail address or username contains</label>
        <input id="q" name="q" value={q} data-testid="people-search" />{" "}
        <button type="submit" data-testid="people-search-submit">
          Search
        </button>
      </form>
      {message ? <Notice kind="error">{message}</Notice> : null}
      <ItemTable
        items={people}
        testId="people-list"
        head={["Username", "E-mail", "State", "Instance", ""]}
        empty={<p data-testid="no-people">Nobody matches.</p>}
        row={(p) => (
          <tr data-person={p.username}>
            <td>
              {p.username}
              {p.isAdmin ? " (admin)" : null}
            </td>
            <td>{p.email}</td>
            <td data-cell="state">{personState(p)}</td>
            <td data-cell="instance">{p.instance ? `${p.instance.name} (${p.instance.state})` : "none"}</td>
            <td>
              {p.id === user.id ? null : <PersonButton csrf={csrf} person={p} action={p.suspendedAt ? "unsuspend" : "suspend"} q={q} />}{" "}
              <a href={`${QUOTAS}?user=${p.id}`}>Quotas</a>
            </td>
          </tr>
        )}
      />
    </AdminLayout>
  );
}

const SearchQuery = z.string().trim().max(200).catch("");

const renderPeople = pageOf<Pick<PeopleView, "people" | "q">, PeopleView>(
  async (c) => {
    const q = SearchQuery.parse(c.req.query("q") ?? "");
    return { q, people: await findPeople(c.get("services"), q) };
  },
  (view) => <PeoplePage {...view} />,
);

const PersonForm = z.object({ id: z.uuid(), q: z.string().trim().max(200).catch("") });
const personNamed = (fields: Record<string, string>) => {
  const parsed = PersonForm.safeParse(fields);
  return parsed.success ? { ok: true as const, data: parsed.data } : { ok: false as const, status: 404 as const, errors: {}, message: "no such person" };
};

/** Suspend or unsuspend, then back to the same search. */
const personAction =
  (act: typeof suspendPerson | typeof unsuspendPerson) =>
  async (c: PageContext, user: AuthUser, { id, q }: z.infer<typeof PersonForm>) => {
    await act(c.get("services"), c.get("log"), user.id, id);
    return c.redirect(q ? `${PEOPLE}?q=${encodeURIComponent(q)}` : PEOPLE, 303);
  };

// Jobs

interface JobsView extends Feedback {
  user: AuthUser;
  csrf: string;
  jobs: Awaited<ReturnType<typeof listFailedJobs>>;
}

function JobsPage({ user, csrf, jobs, message }: JobsView) {
  return (
    <AdminLayout title="Failed jobs" user={user} csrf={csrf} current={JOBS}>
      <p>
        Jobs that failed, the latest first. A job whose agent never finished it (dead-lettered after its delivery attempts, past its deadline, or never queued) can be redriven:
        queued again with a new deadline.
      </p>
      {message ? <Notice kind="error">{message}</Notice> : null}
      <ItemTable
        items={jobs}
        testId="job-list"
        head={["Failed", "Kind", "Host", "Person", "Attempts", "Reason", ""]}
        empty={<p data-testid="no-jobs">No failed jobs.</p>}
        row={({ job, host, username, deadLettered, redrivable }) => (
          <tr data-job={job.id}>
            <td>{job.updatedAt}</td>
            <td>{job.kind}</td>
            <td>{host}</td>
            <td>{username ?? "-"}</td>
            <td>{job.attempts}</td>
            <td data-cell="reason">
              {deadLettered ? <strong>dead-lettered </strong> : null}
              {job.error ? `${job.error.code}: ${job.error.message}` : null}
            </td>
            <td>
              {redrivable ? (
                <form method="post" action={`${JOBS}/redrive`} class="inline">
                  <CsrfField token={csrf} />
                  <input type="hidden" name="id" value={job.id} />
                  <button type="submit" data-testid={`redrive-${job.id}`}>
                    Redrive
                  </button>
                </form>
              ) : null}
            </td>
          </tr>
        )}
      />
    </AdminLayout>
  );
}

const renderJobs = pageOf<Pick<JobsView, "jobs">, JobsView>(async (c) => ({ jobs: await listFailedJobs(c.get("services")) }), (view) => <JobsPage {...view} />);

const jobNamed = namesOne("id", z.uuid(), "no such job");

export const adminPages = createRouter()
  .use(BASE, adminsOnly)
  .use(`${BASE}/*`, adminsOnly)
  .get(BASE, (c) => c.redirect(HOSTS, 303))
  .get(HOSTS, signedInPage(renderHosts))
  .post(
    HOSTS,
    fieldsForm(renderHosts, CreateHostBody, async (c, user, body) => {
      const { host, enrollmentToken } = await registerHost(c.get("services").db, body, personOf(c));
      c.get("log").info("host created", { hostId: host.id, name: host.name, by: user.id });
      return renderHosts(c, user, { enrolled: { name: host.name, token: enrollmentToken } });
    }),
  )
  .post(`${HOSTS}/drain`, buttonForm(renderHosts, hostNamed, draining(true)))
  .post(`${HOSTS}/undrain`, buttonForm(renderHosts, hostNamed, draining(false)))
  .get(PEOPLE, signedInPage(renderPeople))
  .post(`${PEOPLE}/suspend`, buttonForm(renderPeople, personNamed, personAction(suspendPerson)))
  .post(`${PEOPLE}/unsuspend`, buttonForm(renderPeople, personNamed, personAction(unsuspendPerson)))
  .get(JOBS, signedInPage(renderJobs))
  .post(
    `${JOBS}/redrive`,
    buttonForm(renderJobs, jobNamed, async (c, _user, id) => {
      await redrive(c.get("services"), c.get("log"), id);
      return c.redirect(JOBS, 303);
    }),
  );

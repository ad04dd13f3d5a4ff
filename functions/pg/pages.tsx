import type { Child } from "hono/jsx";
import type { z } from "zod";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { PgServiceConfig } from "../../shared/config";
import type { Logger } from "../../shared/logger";
import { createRouter } from "../app";
import type { AuthUser } from "../env";
import type { Services } from "../services";
import { csrfToken } from "../web/csrf";
import { namesOne, type FieldErrors } from "../web/forms";
import { buttonForm, fieldsForm, html, type PageContext, signedInPage, thenGo } from "../web/pages";
import { CsrfField, Field, Layout, Notice, Select } from "../web/layout";
import type { PgDatabaseListing, PgUserListing } from "./queries";
import { personOf, type Person } from "../audit/record";
import { type Quotas, quotasOf } from "../quotas/limits";
import { CreatePgDatabaseBody, CreatePgUserForm, PgName } from "./schemas";
import { connectionUri, createDatabase, createUser, deleteDatabase, deleteUser, listDatabases, listUsers, NOT_CONFIGURED, revealPassword } from "./service";

const USERS = "/kws_services/postgres/users";
const DATABASES = "/kws_services/postgres/db";

const notices: Record<string, string> = {
  "user-deleted": "The database user and its databases are deleted.",
  "db-deleted": "The database is deleted.",
};

interface Feedback {
  values?: Record<string, string>;
  errors?: FieldErrors;
  message?: string;
  notice?: string;
}

interface Secret {
  title: string;
  name: string;
  password: string;
  uri: string;
  hint?: string;
}

function Tabs({ current }: { current: "users" | "db" }) {
  return (
    <p class="alt">
      {current === "users" ? <strong>Database users</strong> : <a href={USERS}>Database users</a>}
      {" · "}
      {current === "db" ? <strong>Databases</strong> : <a href={DATABASES}>Databases</a>}
    </p>
  );
}

/** The connection string, shown once, with a copy button (the field can be copied by hand too). */
function SecretBox({ secret }: { secret: Secret }) {
  return (
    <div class="notice ok" role="status" data-testid="pg-secret">
      <p>
        <strong>{secret.title}</strong> Copy it now: this page shows it once.
      </p>
      <label for="pg-conn">Connection string</label>
      <input id="pg-conn" readonly value={secret.uri} data-testid="pg-connection-uri" data-select />
      <button type="button" data-copy="pg-conn">
        Copy
      </button>
      <p>
        User <code>{secret.name}</code>, password <code data-testid="pg-password">{secret.password}</code>
      </p>
      {secret.hint ? <p>{secret.hint}</p> : null}
    </div>
  );
}

const Page = ({ title, user, csrf, children }: { title: string; user: AuthUser; csrf: string; children?: Child }) => (
  <Layout title={title} user={user} csrf={csrf} wide forms>
    <div class="card">{children}</div>
  </Layout>
);

function NotConfigured({ user, csrf, current }: { user: AuthUser; csrf: string; current: "users" | "db" }) {
  return (
    <Page title="Managed PostgreSQL" user={user} csrf={csrf}>
      <h1>Managed PostgreSQL</h1>
      <Tabs current={current} />
      <Notice kind="error">
        <span data-testid="pg-not-configured">{NOT_CONFIGURED}.</span>
      </Notice>
    </Page>
  );
}

function Connect({ service }: { service: PgServiceConfig }) {
  return (
    <p>
      Connect to <code data-testid="pg-host">{service.publicHost}</code> port <code>{service.publicPort}</code>.
    </p>
  );
}

function DeleteButton({ action, name, csrf, confirm }: { action: string; name: string; csrf: string; confirm: string }) {
  return (
    <form method="post" action={action} class="inline" data-confirm={confirm}>
      <CsrfField token={csrf} />
      <input type="hidden" name="name" value={name} />
      <button type="submit" class="link" data-testid={`delete-${name}`}>
        Delete
      </button>
    </form>
  );
}

/** The two lists: their words, limits and test ids. */
const LISTS = {
  users: { path: USERS, deleted: "user-deleted", title: "Database users", adds: "database user", quota: "pgUsers", second: "Databases", testId: "pg-users", rowTestId: "pg-user" },
  db: { path: DATABASES, deleted: "db-deleted", title: "Databases", adds: "database", quota: "pgDatabases", second: "Owner", testId: "pg-databases", rowTestId: "pg-db" },
} as const;

interface ListView extends Feedback {
  user: AuthUser;
  csrf: string;
  service: PgServiceConfig;
  quotas: Quotas;
  secret?: Secret;
}

interface ListProps<T> {
  list: keyof typeof LISTS;
  view: ListView;
  items: T[];
  /** The column after the name, and the row's buttons. */
  second: (item: T) => Child;
  actions: (item: T) => Child;
  /** The fields of the form that adds one, after its name. */
  children: Child;
  /** Why one cannot be added yet, shown instead of the form. */
  cannotAdd?: Child;
}

/**
 * Both pages: heading, tabs, feedback, a secret shown once, where to connect, the person's users or
 * databases (name, one more column, created, the row's buttons), then the form that adds one.
 */
function ListPage<T extends { name: string; createdAt: Date }>({ list, view, items, second, actions, children, cannotAdd }: ListProps<T>) {
  const { path, title, adds, quota, testId, rowTestId } = LISTS[list];
  const { user, csrf, service, notice, message, secret, values = {}, errors = {} } = view;
  const max = view.quotas[quota];
  const what = title.toLowerCase();
  return (
    <Page title={title} user={user} csrf={csrf}>
      <h1>PostgreSQL {what}</h1>
      <Tabs current={list} />
      {notice && notices[notice] ? <Notice kind="ok">{notices[notice]}</Notice> : null}
      {message ? (
        <Notice kind="error">
          <span data-testid="pg-error">{message}</span>
        </Notice>
      ) : null}
      {secret ? <SecretBox secret={secret} /> : null}
      <Connect service={service} />
      {items.length === 0 ? (
        <p data-testid="pg-empty">You have no {what} yet.</p>
      ) : (
        <table data-testid={testId} class="list">
          <thead>
            <tr>
              <th align="left">Name</th>
              <th align="left">{LISTS[list].second}</th>
              <th align="left">Created</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {items.map((item) => (
              <tr data-testid={`${rowTestId}-${item.name}`}>
                <td>
                  <code>{item.name}</code>
                </td>
                <td>{second(item)}</td>
                <td>{item.createdAt.toISOString().slice(0, 10)}</td>
                <td align="right">{actions(item)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>New {adds}</h2>
      {items.length >= max ? (
        <p>
          You have {max} {what}, the most allowed. Delete one to create another.
        </p>
      ) : null}
      {cannotAdd ?? (
        <form method="post" action={path} novalidate>
          <CsrfField token={csrf} />
          <Field name="name" label="Name (3-63 lower-case letters, digits and _)" value={values.name} error={errors.name} />
          {children}
          <button type="submit">Create {adds}</button>
        </form>
      )}
    </Page>
  );
}

function UserButtons({ user, csrf }: { user: PgUserListing; csrf: string }) {
  return (
    <>
      <form method="post" action={`${USERS}/password`} class="inline">
        <CsrfField token={csrf} />
        <input type="hidden" name="name" value={user.name} />
        <button type="submit" class="link">
          Show password
        </button>
      </form>{" "}
      <DeleteButton action={`${USERS}/delete`} name={user.name} csrf={csrf} confirm={`Delete ${user.name} and its ${user.databases.length} database(s)? Their data is lost.`} />
    </>
  );
}

function UsersPage({ users, ...view }: ListView & { users: PgUserListing[] }) {
  const error = view.errors?.password;
  return (
    <ListPage
      list="users"
      view={view}
      items={users}
      second={(u) => (u.databases.length ? u.databases.join(", ") : "none")}
      actions={(u) => <UserButtons user={u} csrf={view.csrf} />}
    >
      <div>
        <label for="password">Password (leave empty to get a generated one)</label>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="new-password"
          aria-invalid={error ? "true" : undefined}
          aria-describedby={error ? "password-error" : undefined}
        />
        {error ? (
          <p class="field-error" id="password-error" data-field-error="password">
            {error}
          </p>
        ) : null}
      </div>
    </ListPage>
  );
}

function DatabasesPage({ databases, owners, ...view }: ListView & { databases: PgDatabaseListing[]; owners: string[] }) {
  const noOwner = (
    <p>
      A database belongs to one of your database users: <a href={USERS}>create a database user</a> first.
    </p>
  );
  return (
    <ListPage
      list="db"
      view={view}
      items={databases}
      second={(d) => <code>{d.owner}</code>}
      actions={(d) => <DeleteButton action={`${DATABASES}/delete`} name={d.name} csrf={view.csrf} confirm={`Delete ${d.name}? Its data is lost.`} />}
      cannotAdd={owners.length === 0 ? noOwner : undefined}
    >
      <div>
        <label for="owner">Owner</label>
        <Select name="owner" options={owners} selected={view.values?.owner} />
        {view.errors?.owner ? (
          <p class="field-error" data-field-error="owner">
            {view.errors.owner}
          </p>
        ) : null}
      </div>
    </ListPage>
  );
}

const configured = (c: PageContext) => Boolean(c.get("services").pgCluster && c.get("services").config.pgService);

async function renderUsers(c: PageContext, user: AuthUser, view: Feedback & { secret?: Secret } = {}, status: ContentfulStatusCode = 200) {
  const csrf = csrfToken(c);
  if (!configured(c)) return html(c, <NotConfigured user={user} csrf={csrf} current="users" />, 503);
  const s = c.get("services");
  const [{ service, users }, quotas] = await Promise.all([listUsers(s, user.id), quotasOf(s.db, s.config, user.id)]);
  return html(c, <UsersPage user={user} csrf={csrf} service={service} quotas={quotas} users={users} {...view} />, status);
}

async function renderDatabases(c: PageContext, user: AuthUser, view: Feedback & { secret?: Secret } = {}, status: ContentfulStatusCode = 200) {
  const csrf = csrfToken(c);
  if (!configured(c)) return html(c, <NotConfigured user={user} csrf={csrf} current="db" />, 503);
  const services = c.get("services");
  const [{ service, databases }, { users }, quotas] = await Promise.all([
    listDatabases(services, user.id),
    listUsers(services, user.id),
    quotasOf(services.db, services.config, user.id),
  ]);
  return html(
    c,
    <DatabasesPage user={user} csrf={csrf} service={service} quotas={quotas} databases={databases} owners={users.map((u) => u.name)} {...view} />,
    status,
  );
}

type Render = (c: PageContext, user: AuthUser, view?: Feedback & { secret?: Secret }, status?: ContentfulStatusCode) => Promise<Response>;

/** A list page; a redirect back to it may carry a notice. */
const listPage = (render: Render) => signedInPage((c, user) => render(c, user, { notice: c.req.query("notice") }));

/** Creates one and shows the list with its connection string, this once. */
const creates = <S extends z.ZodType>(render: Render, schema: S, create: (c: PageContext, user: AuthUser, data: z.output<S>) => Promise<Secret>) =>
  fieldsForm(render, schema, async (c, user, data) => render(c, user, { secret: await create(c, user, data) }));

/** A delete button of a list: the named one of the person's goes, then the list again with a notice. */
const deletes = (render: Render, list: keyof typeof LISTS, remove: (s: Services, log: Logger, who: Person, name: string) => Promise<void>) => {
  const { adds, path, deleted } = LISTS[list];
  const named = namesOne("name", PgName, `no ${adds} of yours with that name`);
  return buttonForm(render, named, thenGo(`${path}?notice=${deleted}`, (s, who, name, log) => remove(s, log, who, name)));
};

export const pgPages = createRouter()
  .get(USERS, listPage(renderUsers))
  .post(
    USERS,
    creates(renderUsers, CreatePgUserForm, async (c, user, data) => {
      const { user: created, password, service } = await createUser(c.get("services"), c.get("log"), personOf(c), data);
      const hint = "Add a database name after the last / once you have created one.";
      return { title: `Database user ${created.name} is ready.`, name: created.name, password, uri: connectionUri(service, created.name, password), hint };
    }),
  )
  .post(
    `${USERS}/password`,
    buttonForm(renderUsers, namesOne("name", PgName, "no database user of yours with that name"), async (c, user, name) => {
      const { password, service } = await revealPassword(c.get("services"), user.id, name);
      return renderUsers(c, user, { secret: { title: `Password of ${name}.`, name, password, uri: connectionUri(service, name, password) } });
    }),
  )
  .post(`${USERS}/delete`, deletes(renderUsers, "users", deleteUser))
  .get(DATABASES, listPage(renderDatabases))
  .post(
    DATABASES,
    creates(renderDatabases, CreatePgDatabaseBody, async (c, user, data) => {
      const { database, password, service } = await createDatabase(c.get("services"), c.get("log"), personOf(c), data);
      const { name, owner } = database;
      return { title: `Database ${name} is ready.`, name: owner, password, uri: connectionUri(service, owner, password, name) };
    }),
  )
  .post(`${DATABASES}/delete`, deletes(renderDatabases, "db", deleteDatabase));

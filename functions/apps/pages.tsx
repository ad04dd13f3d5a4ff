import { appAccessLevels, type App } from "../../shared/db/schema";
import { createRouter } from "../app";
import type { AuthUser } from "../env";
import { namesOne, type FieldErrors } from "../web/forms";
import { Field, Layout, Notice, BelowLimit, ItemTable, PostForm, RemoveButton, SelectField } from "../web/layout";
import { buttonForm, fieldsForm, pageOf, signedInPage, thenGo } from "../web/pages";
import { quotasOf } from "../quotas/limits";
import { AppNameParam, CreateAppBody } from "./schemas";
import { presentApp } from "./present";
import { createApp, listApps, removeApp } from "./service";

const PAGE = "/kws_apps";

interface View {
  user: AuthUser;
  csrf: string;
  apps: App[];
  appsUrl: string;
  /** The person's apps quota. */
  limit: number;
  values?: Record<string, string>;
  errors?: FieldErrors;
  message?: string;
}

function AppsPage({ user, csrf, apps, appsUrl, limit, values = {}, errors = {}, message }: View) {
  return (
    <Layout title="Apps" user={user} csrf={csrf} wide forms>
      <div class="card">
        <h1>Published apps</h1>
        <p>Publish a port of your instance at its own address (up to {limit}). Access: only you, any KWS account, or anyone.</p>
        {message ? <Notice kind="error">{message}</Notice> : null}
        <ItemTable
          items={apps.map((a) => presentApp(a, appsUrl))}
          testId="app-list"
          head={["Address", "Port", "Access", ""]}
          empty={<p data-testid="no-apps">No apps yet.</p>}
          row={(a) => (
            <tr data-app={a.name}>
              <td>
                <a href={a.url} target="_blank" rel="noopener">
                  {a.url}
                </a>
              </td>
              <td>{a.port}</td>
              <td data-cell="access">{a.access}</td>
              <td>
                <RemoveButton action={`${PAGE}/remove`} csrf={csrf} field="name" value={a.name} label={a.name} testId={`remove-${a.name}`} />
              </td>
            </tr>
          )}
        />
        <BelowLimit count={apps.length} max={limit} what="apps">
          <PostForm action={PAGE} csrf={csrf} submit="Publish" testId="app-create">
            <Field name="name" label="Name (the first label of its address)" value={values.name} error={errors.name} autocomplete="off" />
            <Field name="port" label="Port in your instance" type="number" value={values.port} error={errors.port} autocomplete="off" />
            <SelectField name="access" label="Access" options={appAccessLevels} selected={values.access} />
          </PostForm>
        </BelowLimit>
      </div>
    </Layout>
  );
}

const render = pageOf<Pick<View, "apps" | "appsUrl" | "limit">, View>(
  async (c, user) => {
    const s = c.get("services");
    const [apps, quotas] = await Promise.all([listApps(s, user.id), quotasOf(s.db, s.config, user.id)]);
    return { apps, appsUrl: s.config.appsUrl, limit: quotas.apps };
  },
  (view) => <AppsPage {...view} />,
);

export const appPages = createRouter()
  .get(PAGE, signedInPage(render))
  .post(
    PAGE,
    fieldsForm(render, CreateAppBody, thenGo(PAGE, createApp)),
  )
  .post(`${PAGE}/remove`, buttonForm(render, namesOne("name", AppNameParam.shape.name, "no app of yours with that name"), thenGo(PAGE, removeApp)));

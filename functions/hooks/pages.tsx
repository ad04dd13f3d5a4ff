import { hookProviders } from "../../shared/db/schema";
import { createRouter } from "../app";
import type { AuthUser } from "../env";
import { namesOne, type FieldErrors } from "../web/forms";
import { BelowLimit, Field, ItemTable, Layout, Notice, PostForm, RemoveButton, SelectField } from "../web/layout";
import { buttonForm, fieldsForm, pageOf, signedInPage, thenGo } from "../web/pages";
import { presentHook, presentRun } from "./present";
import { CreateHookBody, HookIdParam, type HookJson, type HookRunJson, MAX_HOOKS, RUNS_PER_HOUR } from "./schemas";
import { createHook, listHooks, listRuns, removeHook } from "./service";

const PAGE = "/kws_hooks";
/** Runs shown per hook; the API lists more. */
const RUNS_SHOWN = 10;

type HookView = HookJson & { runs: HookRunJson[] };

interface View {
  user: AuthUser;
  csrf: string;
  hooks: HookView[];
  created?: { name: string; url: string; secret: string };
  values?: Record<string, string>;
  errors?: FieldErrors;
  message?: string;
}

function Runs({ runs }: { runs: HookRunJson[] }) {
  if (runs.length === 0) return <p>No runs yet.</p>;
  return (
    <ul class="runs">
      {runs.map((r) => (
        <li data-run={r.id}>
          <span data-cell="run-status">{r.status}</span>
          {r.exitCode === null ? null : <> (exit {r.exitCode})</>} · {r.event ?? "delivery"} · {r.createdAt}
          {r.error ? <p class="error">{r.error}</p> : null}
          {r.output ? (
            <details>
              <summary>Output</summary>
              <pre data-testid={`output-${r.id}`}>{r.output}</pre>
            </details>
          ) : null}
        </li>
      ))}
    </ul>
  );
}

function Copyable({ id, label, value }: { id: string; label: string; value: string }) {
  return (
    <p>
      {label} <input id={id} readonly value={value} data-select data-testid={id} />{" "}
      <button type="button" data-copy={id}>
        Copy
      </button>
    </p>
  );
}

function HooksPage({ user, csrf, hooks, created, values = {}, errors = {}, message }: View) {
  return (
    <Layout title="Deploy hooks" user={user} csrf={csrf} wide forms>
      <div class="card">
        <h1>Deploy hooks</h1>
        <p>
          A signed request from GitHub, GitLab or any Standard Webhooks sender to a hook's URL runs its command in your instance, as your user, in your home
          directory (up to {MAX_HOOKS} hooks; one run at a time each, pushes during a run make one more; {RUNS_PER_HOUR} runs an hour).
        </p>
        {message ? <Notice kind="error">{message}</Notice> : null}
        {created ? (
          <div class="notice ok" role="status" data-testid="hook-created">
            <p>
              <strong>{created.name} is added.</strong> Give the provider this URL and secret. The secret is not shown again.
            </p>
            <Copyable id="hook-url" label="URL" value={created.url} />
            <Copyable id="hook-secret" label="Secret" value={created.secret} />
          </div>
        ) : null}
        <ItemTable
          items={hooks}
          testId="hook-list"
          head={["Name", "Provider", "Command and URL", "Runs", ""]}
          empty={<p data-testid="no-hooks">No hooks yet.</p>}
          row={(h) => (
            <tr data-hook={h.id}>
              <td>{h.name}</td>
              <td>{h.provider}</td>
              <td>
                <code>{h.command}</code>
                <br />
                <code>{h.url}</code>
              </td>
              <td>
                <Runs runs={h.runs} />
              </td>
              <td>
                <RemoveButton action={`${PAGE}/remove`} csrf={csrf} field="id" value={h.id} label={h.name} testId={`remove-${h.id}`} />
              </td>
            </tr>
          )}
        />
        <BelowLimit count={hooks.length} max={MAX_HOOKS} what="hooks">
          <PostForm action={PAGE} csrf={csrf} submit="Add" testId="hook-create">
            <Field name="name" label="Name" value={values.name} error={errors.name} autocomplete="off" />
            <SelectField name="provider" label="Provider" options={hookProviders} selected={values.provider} />
            {errors.provider ? <p class="error">{errors.provider}</p> : null}
            <Field name="command" label="Command (e.g. cd app && git pull && make restart)" value={values.command} error={errors.command} autocomplete="off" />
          </PostForm>
        </BelowLimit>
      </div>
    </Layout>
  );
}

const render = pageOf<Pick<View, "hooks">, View>(
  async (c, user) => {
    const s = c.get("services");
    const hooks = await listHooks(s, user.id);
    return {
      hooks: await Promise.all(
        hooks.map(async (h) => ({ ...presentHook(h, s.config.publicUrl), runs: (await listRuns(s, user.id, h.id)).slice(0, RUNS_SHOWN).map(presentRun) })),
      ),
    };
  },
  (view) => <HooksPage {...view} />,
);

export const hookPages = createRouter()
  .get(PAGE, signedInPage(render))
  .post(
    PAGE,
    fieldsForm(render, CreateHookBody, async (c, user, body) => {
      const s = c.get("services");
      const { hook, secret } = await createHook(s, user.id, body);
      return render(c, user, { created: { name: hook.name, url: presentHook(hook, s.config.publicUrl).url, secret } });
    }),
  )
  .post(`${PAGE}/remove`, buttonForm(render, namesOne("id", HookIdParam.shape.id, "no hook of yours with that id"), thenGo(PAGE, (s, who, id: string) => removeHook(s, who.userId, id))));

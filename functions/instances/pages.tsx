import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Job } from "../../shared/db/schema";
import { isFinal } from "../core/jobs/store";
import { createRouter } from "../app";
import type { AuthUser } from "../env";
import { csrfToken } from "../web/csrf";
import type { FieldErrors } from "../web/forms";
import { CsrfField, Field, Layout, Notice } from "../web/layout";
import { buttonForm, fieldsForm, html, noFields, type PageContext, signedInPage, thenGo } from "../web/pages";
import { Script } from "../web/script";
import { presentInstance, type InstanceJson } from "./present";
import { IdleSection } from "../idle/pages";
import { IdleStopBody } from "../idle/schemas";
import { chooseIdleStop } from "../idle/service";
import { DeployBody } from "./schemas";
import { deployInstance, instanceAction, viewInstance, type InstanceAction } from "./service";

const PAGE = "/kws_instances";

// Follows the running job's event stream: each step is added as it comes, and at the end the
// page reloads to show the new state. The steps list starts empty because the stream replays them.
const FOLLOW_PROGRESS = `(function(){
  var list = document.getElementById('progress');
  if (!list || !window.EventSource) return;
  var es = new EventSource('/api/v1/jobs/' + list.dataset.job + '/events');
  es.addEventListener('step', function (e) {
    var s = JSON.parse(e.data), li = document.createElement('li');
    li.dataset.step = s.step;
    li.textContent = s.step + ': ' + s.message;
    list.appendChild(li);
  });
  es.addEventListener('end', function () { es.close(); setTimeout(function () { location.replace('${PAGE}'); }, 300); });
})();`;

const REVEAL_PASSWORD = `(function(){
  var b = document.getElementById('reveal');
  if (!b) return;
  b.addEventListener('click', function () {
    fetch('/api/v1/instance?reveal=password', { credentials: 'same-origin' })
      .then(function (r) { return r.json(); })
      .then(function (j) { document.getElementById('password').textContent = j.password; b.hidden = true; });
  });
})();`;

interface View {
  user: AuthUser;
  csrf: string;
  instance: InstanceJson;
  job?: Job;
  values?: Record<string, string>;
  errors?: FieldErrors;
  message?: string;
}

function ActionButton({ action, label, csrf, confirm }: { action: InstanceAction; label: string; csrf: string; confirm?: string }) {
  return (
    <form method="post" action={`${PAGE}/${action}`} class="inline" data-confirm={confirm}>
      <CsrfField token={csrf} />
      <button type="submit" data-testid={`instance-${action}`}>
        {label}
      </button>
    </form>
  );
}

function Progress({ job }: { job: Job }) {
  const open = !isFinal(job.status);
  return (
    <section>
      <h2>
        {job.kind.replace("instance.", "")}: <span data-testid="job-status">{job.status}</span>
      </h2>
      {job.error ? <Notice kind="error">{job.error.message}</Notice> : null}
      <ol id={open ? "progress" : undefined} data-job={job.id} data-testid="progress">
        {open
          ? null
          : job.steps.map((s) => (
              <li data-step={s.step}>
                {s.step}: {s.message}
              </li>
            ))}
      </ol>
      {open ? <Script code={FOLLOW_PROGRESS} /> : null}
    </section>
  );
}

function InstancePage({ user, csrf, instance, job, values = {}, errors = {}, message }: View) {
  const busy = job !== undefined && !isFinal(job.status);
  return (
    <Layout title="Instance" user={user} csrf={csrf} wide forms>
      <div class="card">
        <h1>Your instance</h1>
        {message ? <Notice kind="error">{message}</Notice> : null}
        <p>
          State: <strong data-testid="instance-state">{instance.state}</strong>
          {instance.host ? ` on host ${instance.host}` : ""}
        </p>
        {instance.state !== "none" && instance.urls ? (
          <dl>
            <dt>Address</dt>
            <dd data-testid="instance-ip">{instance.ip}</dd>
            <dt>VS Code in the browser</dt>
            <dd>
              <a href={instance.urls.ide} data-testid="ide-link" target="_blank" rel="noopener">
                {instance.urls.ide}
              </a>
            </dd>
            <dt>SSH</dt>
            <dd>
              <code data-testid="ssh-command">{instance.urls.ssh}</code>
            </dd>
            <dt>Login</dt>
            <dd>
              <code>{instance.username}</code> / <code id="password" data-testid="instance-password">••••••••</code>{" "}
              <button type="button" id="reveal" class="link" data-testid="reveal-password">
                Show password
              </button>
              <Script code={REVEAL_PASSWORD} />
            </dd>
          </dl>
        ) : null}
        {busy ? null : instance.state === "none" || instance.state === "failed" ? (
          <form method="post" action={PAGE} data-testid="deploy-form">
            <CsrfField token={csrf} />
            <p>{instance.state === "failed" ? "The last deploy failed. Deploy again with a login:" : "Choose the login of your new machine."}</p>
            <Field name="username" label="Username" value={values.username} error={errors.username} autocomplete="off" />
            <Field name="password" label="Password" type="password" error={errors.password} autocomplete="new-password" />
            <button type="submit" data-testid="instance-deploy">
              Deploy
            </button>
          </form>
        ) : null}
        {busy || instance.state === "none" ? null : (
          <p>
            {instance.state === "stopped" ? <ActionButton action="start" label="Start" csrf={csrf} /> : null}
            {instance.state === "running" ? <ActionButton action="stop" label="Stop" csrf={csrf} /> : null}{" "}
            <ActionButton action="kill" label="Kill" csrf={csrf} confirm="Kill your instance? Its files are deleted." />
          </p>
        )}
        {instance.idle ? (
          <IdleSection idle={instance.idle} running={instance.state === "running"} action={`${PAGE}/idle-stop`} csrf={csrf} value={values.idleStop} error={errors.idleStop} />
        ) : null}
        {job ? <Progress job={job} /> : null}
      </div>
    </Layout>
  );
}

async function render(c: PageContext, user: AuthUser, extra: Partial<View> = {}, status: ContentfulStatusCode = 200) {
  const view = await viewInstance(c.get("services"), user.id, false);
  return html(c, <InstancePage user={user} csrf={csrfToken(c)} instance={presentInstance(view, c.get("services").config)} job={view.job} {...extra} />, status);
}

const act = (action: InstanceAction) => buttonForm(render, noFields, thenGo(PAGE, (s, who) => instanceAction(s, who, action)));

export const instancePages = createRouter()
  .get(PAGE, signedInPage(render))
  .post(PAGE, fieldsForm(render, DeployBody, thenGo(PAGE, deployInstance)))
  .post(`${PAGE}/start`, act("start"))
  .post(`${PAGE}/stop`, act("stop"))
  .post(`${PAGE}/kill`, act("kill"))
  .post(`${PAGE}/idle-stop`, fieldsForm(render, IdleStopBody, thenGo(PAGE, (s, who, body) => chooseIdleStop(s, who.userId, body.idleStop))));

import { z } from "zod";
import { createRouter } from "../app";
import type { AuthUser } from "../env";
import { namesOne, type FieldErrors } from "../web/forms";
import { BelowLimit, CsrfField, Field, ItemTable, Layout, Notice, PostForm, RemoveButton } from "../web/layout";
import { buttonForm, fieldsForm, pageOf, signedInPage, thenGo, type PageContext } from "../web/pages";
import { webhookEventTypes } from "./events";
import { presentAttempt, presentWebhook } from "./present";
import { type AttemptJson, EventList, WebhookUrl, type WebhookJson } from "./schemas";
import { quotasOf } from "../quotas/limits";
import { createWebhook, deliveryLog, listWebhooks, removeWebhook, retryWebhookDelivery, rotateSecret, testWebhook } from "./service";

const PAGE = "/kws_webhooks";
/** Attempts shown per endpoint (the API gives 100). */
const LOG_ROWS = 10;

interface View {
  user: AuthUser;
  csrf: string;
  endpoints: { webhook: WebhookJson; attempts: AttemptJson[] }[];
  /** The person's webhooks quota. */
  limit: number;
  values?: Record<string, string>;
  errors?: FieldErrors;
  message?: string;
  /** A secret made just now (creation, rotation): shown this once. */
  secret?: { url: string; value: string };
}

/** A button posting the endpoint's id (and more hidden fields) to `action`. */
function EndpointButton({ action, csrf, fields, label, testId }: { action: string; csrf: string; fields: Record<string, string>; label: string; testId: string }) {
  return (
    <form method="post" action={action} class="inline">
      <CsrfField token={csrf} />
      {Object.entries(fields).map(([name, value]) => (
        <input type="hidden" name={name} value={value} />
      ))}
      <button type="submit" class="link" data-testid={testId}>
        {label}
      </button>
    </form>
  );
}

function DeliveryLog({ webhook, attempts, csrf }: { webhook: WebhookJson; attempts: AttemptJson[]; csrf: string }) {
  return (
    <ItemTable
      items={attempts.slice(0, LOG_ROWS)}
      testId={`log-${webhook.id}`}
      head={["Event", "Attempt", "Answer", "Time", "Next attempt", ""]}
      empty={<p>No attempts yet.</p>}
      row={(a) => (
        <tr data-attempt={a.id}>
          <td>{a.event}</td>
          <td>{a.attempt}</td>
          <td data-cell="answer">{a.statusCode ?? a.error}</td>
          <td>{a.durationMs} ms</td>
          <td>{a.nextAttemptAt ?? (a.deliveryState === "succeeded" ? "delivered" : "none")}</td>
          <td>
            {a.deliveryState === "failed" ? (
              <EndpointButton action={`${PAGE}/retry`} csrf={csrf} fields={{ id: webhook.id, delivery: a.deliveryId }} label="Retry" testId={`retry-${a.deliveryId}`} />
            ) : null}
          </td>
        </tr>
      )}
    />
  );
}

function WebhooksPage({ user, csrf, endpoints, limit, values = {}, errors = {}, message, secret }: View) {
  return (
    <Layout title="Webhooks" user={user} csrf={csrf} wide forms>
      <div class="card">
        <h1>Webhooks</h1>
        <p>
          KWS sends signed events (Standard Webhooks) to your endpoints, up to {limit}. Verify them with the endpoint's secret; failed deliveries are tried again
          for about a day and a half.
        </p>
        {message ? <Notice kind="error">{message}</Notice> : null}
        {secret ? (
          <Notice kind="ok">
            Secret of {secret.url}, shown this once:{" "}
            <input id="new-secret" readonly value={secret.value} data-select data-testid="webhook-secret" />
            <button type="button" data-copy="new-secret">
              Copy
            </button>
          </Notice>
        ) : null}
        {endpoints.length === 0 ? <p data-testid="no-webhooks">No endpoints yet.</p> : null}
        {endpoints.map(({ webhook: w, attempts }) => (
          <section data-webhook={w.id}>
            <h2>{w.url}</h2>
            <p>
              {w.description ? <>{w.description} · </> : null}
              <span data-cell="state">{w.enabled ? "enabled" : `disabled${w.disabledReason ? `: ${w.disabledReason}` : ""}`}</span> · {w.events.join(", ")}
            </p>
            <p>
              <EndpointButton action={`${PAGE}/test`} csrf={csrf} fields={{ id: w.id }} label="Send test event" testId={`test-${w.id}`} />{" "}
              <EndpointButton action={`${PAGE}/rotate`} csrf={csrf} fields={{ id: w.id }} label="Rotate secret" testId={`rotate-${w.id}`} />{" "}
              <RemoveButton action={`${PAGE}/remove`} csrf={csrf} field="id" value={w.id} label={w.url} testId={`remove-${w.id}`} />
            </p>
            <DeliveryLog webhook={w} attempts={attempts} csrf={csrf} />
          </section>
        ))}
        <BelowLimit count={endpoints.length} max={limit} what="endpoints">
          <PostForm action={PAGE} csrf={csrf} submit="Add endpoint" testId="webhook-create">
            <Field name="url" label="URL" value={values.url} error={errors.url} autocomplete="off" />
            <Field name="events" label="Events (separated by spaces)" value={values.events ?? webhookEventTypes.join(" ")} error={errors.events} autocomplete="off" />
            <Field name="description" label="Description" value={values.description ?? "-"} error={errors.description} autocomplete="off" />
          </PostForm>
        </BelowLimit>
      </div>
    </Layout>
  );
}

const render = pageOf<Pick<View, "endpoints" | "limit">, View>(
  async (c, user) => {
    const s = c.get("services");
    const [endpoints, quotas] = await Promise.all([listWebhooks(s, user.id), quotasOf(s.db, s.config, user.id)]);
    return {
      limit: quotas.webhooks,
      endpoints: await Promise.all(endpoints.map(async (e) => ({ webhook: presentWebhook(e), attempts: (await deliveryLog(s, user.id, e.id)).map(presentAttempt) }))),
    };
  },
  (view) => <WebhooksPage {...view} />,
);

/** The form's events are one text field, the types separated by spaces or commas. */
const CreateWebhookForm = z.object({
  url: WebhookUrl,
  events: z.string().transform((v) => v.split(/[\s,]+/).filter(Boolean)).pipe(EventList),
  description: z.string().trim().max(200, "must be at most 200 characters").transform((v) => (v === "-" ? "" : v)),
});

const named = namesOne("id", z.string().min(1), "no webhook endpoint of yours with that id");
const retried = (fields: Record<string, string>) =>
  fields.id && fields.delivery ? { ok: true as const, data: { id: fields.id, delivery: fields.delivery } } : { ok: false as const, status: 404 as const, errors: {}, message: "no such delivery" };

/** Shows the page with the secret just made. */
const withSecret = (c: PageContext, user: AuthUser, made: { endpoint: { url: string }; secret: string }) => render(c, user, { secret: { url: made.endpoint.url, value: made.secret } });

export const webhookPages = createRouter()
  .get(PAGE, signedInPage(render))
  .post(PAGE, fieldsForm(render, CreateWebhookForm, async (c, user, data) => withSecret(c, user, await createWebhook(c.get("services"), user.id, data))))
  .post(`${PAGE}/rotate`, buttonForm(render, named, async (c, user, id) => withSecret(c, user, await rotateSecret(c.get("services"), user.id, id))))
  .post(`${PAGE}/test`, buttonForm(render, named, thenGo(PAGE, (s, who, id: string) => testWebhook(s, who.userId, id))))
  .post(`${PAGE}/remove`, buttonForm(render, named, thenGo(PAGE, (s, who, id: string) => removeWebhook(s, who.userId, id))))
  .post(`${PAGE}/retry`, buttonForm(render, retried, thenGo(PAGE, (s, who, d: { id: string; delivery: string }) => retryWebhookDelivery(s, who.userId, d.id, d.delivery))));

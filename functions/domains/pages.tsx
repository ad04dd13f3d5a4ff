import { z } from "zod";
import { createRouter } from "../app";
import { appsOfUser } from "../apps/queries";
import type { AuthUser } from "../env";
import { namesOne, type FieldErrors } from "../web/forms";
import { BelowLimit, CsrfField, Field, ItemTable, Layout, Notice, PostForm, RemoveButton, SelectField } from "../web/layout";
import { buttonForm, fieldsForm, pageOf, signedInPage, thenGo } from "../web/pages";
import { presentDomain } from "./present";
import { quotasOf } from "../quotas/limits";
import { CreateDomainBody, type DomainJson } from "./schemas";
import { createDomain, listDomains, removeDomain, verifyDomain } from "./service";

const PAGE = "/kws_domains";

interface View {
  user: AuthUser;
  csrf: string;
  domains: DomainJson[];
  apps: string[];
  /** The person's domains quota. */
  limit: number;
  values?: Record<string, string>;
  errors?: FieldErrors;
  message?: string;
}

/** The TXT record to create, each part in a field of its own with a copy button. */
function TxtRecord({ d, i }: { d: DomainJson; i: number }) {
  const part = (what: "name" | "value") => (
    <div>
      <input id={`txt-${what}-${i}`} readonly value={d.verification[what]} data-select data-testid={`txt-${what}-${d.name}`} />
      <button type="button" data-copy={`txt-${what}-${i}`}>
        Copy
      </button>
    </div>
  );
  return (
    <>
      TXT {part("name")}
      {part("value")}
    </>
  );
}

function DomainsPage({ user, csrf, domains, apps, limit, values = {}, errors = {}, message }: View) {
  return (
    <Layout title="Domains" user={user} csrf={csrf} wide forms>
      <div class="card">
        <h1>Custom domains</h1>
        <p>
          Serve one of your apps at your own domain (up to {limit}). Create the TXT record shown, then verify: the domain is yours on KWS once the record is
          found (KWS also looks for it by itself for 72 hours).
        </p>
        {message ? <Notice kind="error">{message}</Notice> : null}
        <ItemTable
          items={domains}
          testId="domain-list"
          head={["Domain", "App", "Status", "Record to create", ""]}
          empty={<p data-testid="no-domains">No domains yet.</p>}
          row={(d) => (
            <tr data-domain={d.name}>
              <td>{d.name}</td>
              <td>{d.app}</td>
              <td data-cell="status">{d.status}</td>
              <td>{d.status === "verified" ? "found" : <TxtRecord d={d} i={domains.indexOf(d)} />}</td>
              <td>
                {d.status === "verified" ? null : (
                  <form method="post" action={`${PAGE}/verify`} class="inline">
                    <CsrfField token={csrf} />
                    <input type="hidden" name="name" value={d.name} />
                    <button type="submit" data-testid={`verify-${d.name}`}>
                      Verify
                    </button>
                  </form>
                )}{" "}
                <RemoveButton action={`${PAGE}/remove`} csrf={csrf} field="name" value={d.name} label={d.name} testId={`remove-${d.name}`} />
              </td>
            </tr>
          )}
        />
        {apps.length === 0 ? (
          <p>
            Publish an app first (<a href="/kws_apps">Apps</a>): a domain points at one of them.
          </p>
        ) : (
          <BelowLimit count={domains.length} max={limit} what="domains">
            <PostForm action={PAGE} csrf={csrf} submit="Add" testId="domain-create">
              <Field name="domain" label="Domain (e.g. shop.example.org)" value={values.domain} error={errors.domain} autocomplete="off" />
              <SelectField name="app" label="App" options={apps} selected={values.app} />
              {errors.app ? <p class="error">{errors.app}</p> : null}
            </PostForm>
          </BelowLimit>
        )}
      </div>
    </Layout>
  );
}

const render = pageOf<Pick<View, "domains" | "apps" | "limit">, View>(
  async (c, user) => {
    const s = c.get("services");
    const [domains, apps, quotas] = await Promise.all([listDomains(s, user.id), appsOfUser(s.db, user.id), quotasOf(s.db, s.config, user.id)]);
    return { domains: domains.map(presentDomain), apps: apps.map((a) => a.name), limit: quotas.domains };
  },
  (view) => <DomainsPage {...view} />,
);

const named = namesOne("name", z.string().min(1), "no domain of yours with that name");

export const domainPages = createRouter()
  .get(PAGE, signedInPage(render))
  .post(PAGE, fieldsForm(render, CreateDomainBody, thenGo(PAGE, createDomain)))
  .post(`${PAGE}/verify`, buttonForm(render, named, thenGo(PAGE, verifyDomain)))
  .post(`${PAGE}/remove`, buttonForm(render, named, thenGo(PAGE, removeDomain)));

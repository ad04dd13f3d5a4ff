import type { Child } from "hono/jsx";
import type { AuthUser } from "../env";
import { FORM_BEHAVIOURS } from "./behaviours";
import { CSRF_FIELD } from "./csrf";
import { Script } from "./script";

export interface LayoutProps {
  title: string;
  user?: AuthUser;
  csrf?: string;
  wide?: boolean;
  /** The page has forms: their shared behaviours (confirm, copy, select) come with it. */
  forms?: boolean;
  children?: Child;
}

/** The shared page frame: header with the signed-in user, one stylesheet, readable on a phone. */
export function Layout({ title, user, csrf, wide, forms, children }: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} · KWS`}</title>
        <link rel="stylesheet" href="/kws_static/style.css" />
      </head>
      <body>
        <header>
          <a class="brand" href="/">KWS</a>
          {user && csrf ? (
            <form method="post" action="/kws_signout">
              <input type="hidden" name={CSRF_FIELD} value={csrf} />
              <span data-testid="header-user">{user.username}</span>{" "}
              <button type="submit" class="link">Sign out</button>
            </form>
          ) : null}
        </header>
        <main class={wide ? "wide" : undefined}>
          {children}
          {forms ? <Script code={FORM_BEHAVIOURS} /> : null}
        </main>
      </body>
    </html>
  );
}

export function Notice({ kind = "info", children }: { kind?: "info" | "error" | "ok"; children?: Child }) {
  return (
    <div class={`notice ${kind === "info" ? "" : kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}

export interface FieldProps {
  name: string;
  /** Defaults to the name; needed when two forms of one page have a field of the same name. */
  id?: string;
  label: string;
  type?: string;
  value?: string;
  error?: string;
  autocomplete?: string;
}

export function Field({ name, id = name, label, type = "text", value, error, autocomplete }: FieldProps) {
  const errorId = `${id}-error`;
  return (
    <div>
      <label for={id}>{label}</label>
      <input
        id={id}
        name={name}
        type={type}
        value={type === "password" ? undefined : value}
        autocomplete={autocomplete}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={error ? errorId : undefined}
        required
      />
      {error ? (
        <p class="field-error" id={errorId} data-field-error={name}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

export function CsrfField({ token }: { token: string }) {
  return <input type="hidden" name={CSRF_FIELD} value={token} />;
}

/** A one-button form that posts `field=value` to `action` after the browser's confirmation. */
export function RemoveButton({ action, csrf, field, value, label, testId }: { action: string; csrf: string; field: string; value: string; label: string; testId: string }) {
  return (
    <form method="post" action={action} class="inline" data-confirm={`Remove ${label}?`}>
      <CsrfField token={csrf} />
      <input type="hidden" name={field} value={value} />
      <button type="submit" class="link" data-testid={testId}>
        Remove
      </button>
    </form>
  );
}

/** A form that posts to `action` with the form token: `children` (its fields), then its submit button. */
export function PostForm({ action, csrf, submit, testId, children }: { action: string; csrf: string; submit: string; testId: string; children: Child }) {
  return (
    <form method="post" action={action}>
      <CsrfField token={csrf} />
      {children}
      <button type="submit" data-testid={testId}>
        {submit}
      </button>
    </form>
  );
}

/** A labelled choice among `options` (see Select). */
export function SelectField({ name, label, options, selected }: { name: string; label: string; options: readonly string[]; selected?: string }) {
  return (
    <>
      <label for={name}>{label}</label>
      <Select name={name} options={options} selected={selected} />{" "}
    </>
  );
}

/** A choice among `options`; a form shown again keeps the person's `selected` one. */
export function Select({ name, options, selected }: { name: string; options: readonly string[]; selected?: string }) {
  return (
    <select id={name} name={name}>
      {options.map((o) => (
        <option value={o} selected={selected === o}>
          {o}
        </option>
      ))}
    </select>
  );
}

/** The person's things as a table (the `head` cells, then a row each), or `empty` while there are none. */
export function ItemTable<T>({ items, testId, head, row, empty }: { items: readonly T[]; testId: string; head: string[]; row: (item: T) => Child; empty: Child }) {
  if (!items.length) return <>{empty}</>;
  return (
    <table data-testid={testId}>
      <tr>
        {head.map((h) => (
          <th>{h}</th>
        ))}
      </tr>
      {items.map(row)}
    </table>
  );
}

/** `children` (the form that adds one) while the person has fewer than `max` of `what`; then why not. */
export function BelowLimit({ count, max, what, children }: { count: number; max: number; what: string; children: Child }) {
  return count < max ? <>{children}</> : <p>You have {max} {what}, the most allowed.</p>;
}

/**
 * The account pages: /kws_forgot and /kws_reset, /kws_email_confirm (a button, never a GET that
 * changes anything) and /kws_account with its four forms, linked from the dashboard and sign-in.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Browser } from "../support/form-browser";
import { signedInUser, startHarness, type Harness } from "../support/harness";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

const NEW_PASSWORD = "Brand-New-Pass-7";
const me = async (cookie: string) => (await h.call("GET", "/api/v1/me", { headers: { cookie } })).status;

/** The path and query of the link to `path` in the newest mail to `to` that has one. */
async function mailedLink(to: string, path: string) {
  const pattern = new RegExp(`https?://\\S+(${path}\\?token=[A-Za-z0-9_%-]+)`);
  const mail = await h.mailbox.find(to, (m) => pattern.test(m.text));
  return mail.text.match(pattern)![1]!;
}

async function secondSession(username: string, password: string) {
  const res = await h.call("POST", "/api/v1/auth/login", { body: { username, password } });
  assert.equal(res.status, 200);
  return res.headers.get("set-cookie")!.split(";")[0]!;
}

test("the dashboard links the account page, sign-in links the forgotten-password page", async () => {
  const { cookie } = await signedInUser(h);
  const dashboard = await new Browser(h, cookie).get("/");
  assert.match(dashboard.html, /href="\/kws_account"/);
  assert.match((await new Browser(h).get("/kws_signin")).html, /href="\/kws_forgot"/);
  const signedOut = await new Browser(h).get("/kws_account");
  assert.equal(signedOut.status, 303);
  assert.match(signedOut.location ?? "", /^\/kws_signin/);
});

test("forgot → mailed link → a form that POSTs the new password → every session ended; the link works once", async () => {
  const { account, cookie } = await signedInUser(h);
  const browser = new Browser(h);
  const sent = await browser.post("/kws_forgot", "/kws_forgot", { email: account.email });
  assert.equal(sent.status, 200);
  assert.match(sent.html, /data-testid="account-sent"/);
  const link = await mailedLink(account.email, "/kws_reset");
  const page = await browser.get(link);
  assert.match(page.html, /<form method="post" action="\/kws_reset"/);
  const token = page.html.match(/name="token" value="([^"]+)"/)?.[1];
  assert.ok(token, "the token rides in the form");

  const weak = await browser.post(link, "/kws_reset", { token, password: "weak" });
  assert.equal(weak.status, 400);
  assert.match(weak.html, /data-field-error="password"/);
  const done = await browser.post(link, "/kws_reset", { token, password: NEW_PASSWORD });
  assert.equal(done.status, 200, done.html);
  assert.match(done.html, /data-testid="account-done"/);
  assert.equal(await me(cookie), 401, "the session from before the reset ended");
  assert.equal(await me(await secondSession(account.username, NEW_PASSWORD)), 200);

  const again = await browser.post(link, "/kws_reset", { token, password: "Another-Pass-8" });
  assert.equal(again.status, 410);
  assert.match(again.html, /already used/);
  assert.match(again.html, /href="\/kws_forgot"/, "offers a new link");
});

test("change password: a wrong current one is shown at its field; the right one keeps this browser signed in only", async () => {
  const { account, cookie } = await signedInUser(h);
  const other = await secondSession(account.username, account.password);
  const browser = new Browser(h, cookie);
  const wrong = await browser.post("/kws_account", "/kws_account/password", { currentPassword: "Wrong-Pass-1", newPassword: NEW_PASSWORD });
  assert.equal(wrong.status, 403);
  assert.match(wrong.html, /data-field-error="currentPassword"/);
  const ok = await browser.post("/kws_account", "/kws_account/password", { currentPassword: account.password, newPassword: NEW_PASSWORD });
  assert.equal(ok.status, 303);
  assert.equal(ok.location, "/kws_account?notice=password-changed");
  const after = await browser.get(ok.location!);
  assert.equal(after.status, 200, "this browser stays signed in");
  assert.match(after.html, /Your password is changed/);
  assert.equal(await me(other), 401, "the other session ended");
});

test("change e-mail: the link to the new address opens a button; the change applies on its POST", async () => {
  const { account, cookie } = await signedInUser(h);
  const target = `page.${Date.now()}@example.org`;
  const browser = new Browser(h, cookie);
  const asked = await browser.post("/kws_account", "/kws_account/email", { email: target, password: account.password });
  assert.equal(asked.status, 200, asked.html);
  assert.match(asked.html, /data-testid="account-sent"/);
  const link = await mailedLink(target, "/kws_email_confirm");
  const mailbox = new Browser(h);
  const page = await mailbox.get(link);
  assert.match(page.html, /data-testid="confirm-email"/);
  assert.match((await browser.get("/kws_account")).html, new RegExp(`data-testid="account-email">${account.email}<`), "opening the link changed nothing");
  const token = page.html.match(/name="token" value="([^"]+)"/)![1]!;
  const done = await mailbox.post(link, "/kws_email_confirm", { token });
  assert.equal(done.status, 200, done.html);
  assert.match((await browser.get("/kws_account")).html, new RegExp(`data-testid="account-email">${target}<`));
});

test("sign out everywhere ends this browser's session and the others", async () => {
  const { account, cookie } = await signedInUser(h);
  const other = await secondSession(account.username, account.password);
  const res = await new Browser(h, cookie).post("/kws_account", "/kws_account/logout-all", {});
  assert.equal(res.status, 303);
  assert.equal(res.location, "/kws_signin?notice=signed-out");
  assert.equal(await me(cookie), 401);
  assert.equal(await me(other), 401);
});

test("delete account: a wrong password is shown at the form; the right one deletes and signs out", async () => {
  const { account, cookie } = await signedInUser(h);
  const browser = new Browser(h, cookie);
  const wrong = await browser.post("/kws_account", "/kws_account/delete", { password: "Wrong-Pass-1" });
  assert.equal(wrong.status, 403);
  assert.match(wrong.html, /data-field-error="password"/);
  assert.match(wrong.html, /id="delete-password"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="delete-password"/, "the error is at the delete form's field");
  assert.equal(await me(cookie), 200);
  const done = await browser.post("/kws_account", "/kws_account/delete", { password: account.password });
  assert.equal(done.status, 200, done.html);
  assert.match(done.html, /data-testid="account-done"/);
  assert.equal(await me(cookie), 401);
  assert.equal((await h.call("POST", "/api/v1/auth/login", { body: { username: account.username, password: account.password } })).status, 401);
});

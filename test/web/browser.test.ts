import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ServerType } from "@hono/node-server";
import type { Browser } from "playwright-core";
import { appendStep, finishJob } from "../../functions/core/jobs/store";
import { launchChromium, serveForBrowser } from "../support/chromium";
import { watchCsp } from "../support/csp-watch";
import { newAccount, signedInUser, startHarness, type Harness } from "../support/harness";
import { insertOnlineHost } from "../support/online-host";

let h: Harness;
let server: ServerType;
let origin: string;
let browser: Browser;

before(async () => {
  h = await startHarness();
  ({ origin, server } = await serveForBrowser(h.app.fetch));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
  await h?.close();
});

test("register → mailed link → sign in → dashboard → sign out", async () => {
  const account = newAccount({ firstName: "Katherine", lastName: "Johnson" });
  const page = await browser.newPage();
  const violations = await watchCsp(page);

  await page.goto(`${origin}/`);
  assert.match(page.url(), /\/kws_signin/, "signed-out visitors go to sign-in");
  await page.click("text=Create an account");

  // A field error shows next to its field, in words, and the other values are kept.
  await page.fill("#email", account.email);
  await page.fill("#username", account.username);
  await page.fill("#firstName", account.firstName);
  await page.fill("#lastName", account.lastName);
  await page.fill("#password", "weakpass");
  await page.click("button[type=submit]");
  assert.match((await page.textContent("[data-field-error=password]")) ?? "", /upper-case letter/);
  assert.equal(await page.inputValue("#email"), account.email);

  await page.fill("#password", account.password);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/kws_check_email$/);
  assert.match((await page.textContent("h1")) ?? "", /Check your e-mail/);

  const mailed = new URL(await h.mailbox.verificationLink(account.email));
  await page.goto(`${origin}${mailed.pathname}${mailed.search}`);
  assert.equal(await page.textContent("[data-testid=verify-username]"), account.username, "the page names the account before verifying");
  await page.click("button[type=submit]");
  await page.waitForURL(/\/kws_signin\?notice=verified/);
  assert.match((await page.textContent(".notice")) ?? "", /verified/);

  await page.fill("#username", account.username);
  await page.fill("#password", account.password);
  await page.click("button[type=submit]");
  await page.waitForURL(`${origin}/`);
  assert.equal(await page.textContent("[data-testid=username]"), account.username);
  assert.match((await page.textContent("[data-testid=welcome]")) ?? "", /Katherine/);
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === "kws_session");
  assert.ok(session?.httpOnly, "session cookie is HttpOnly");
  assert.equal(session?.sameSite, "Lax");

  await page.click("text=Sign out");
  await page.waitForURL(/\/kws_signin\?notice=signed-out/);
  await page.goto(`${origin}/`);
  assert.match(page.url(), /\/kws_signin/, "after sign-out / sends you to sign-in");
  assert.deepEqual(violations, [], "no Content-Security-Policy violation");
  await page.close();
});

test("a wrong password shows an error on the sign-in page; a form post without the CSRF token is refused", async () => {
  const page = await browser.newPage();
  await page.goto(`${origin}/kws_signin`);
  await page.fill("#username", "nobody_at_all");
  await page.fill("#password", "Wrong-Pass-1");
  await page.click("button[type=submit]");
  assert.match((await page.textContent(".notice.error")) ?? "", /wrong username or password/);
  await page.close();

  const forged = await fetch(`${origin}/kws_signin`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "username=someone&password=Whatever-1",
  });
  assert.equal(forged.status, 403);
});

test("the pages' scripts run under the Content-Security-Policy: live progress, password reveal, confirm, key pair made in the browser", async () => {
  const { cookie } = await signedInUser(h);
  const host = await insertOnlineHost(h.services.db);
  const context = await browser.newContext();
  const [name, value] = cookie.split("=") as [string, string];
  await context.addCookies([{ name, value, url: origin }]);
  const page = await context.newPage();
  const violations = await watchCsp(page);

  // The deploy's job stays queued (no agent behind the host): the page follows its event stream.
  await page.goto(`${origin}/kws_instances`);
  await page.fill("#username", "ada");
  await page.fill("#password", "Csp-Check-1234");
  await page.click("[data-testid=instance-deploy]");
  await page.waitForSelector("#progress", { state: "attached" });
  const jobId = (await page.getAttribute("#progress", "data-job"))!;
  await appendStep(h.services.db, jobId, host.id, "create", "container made");
  await page.waitForSelector("#progress li[data-step=create]", { timeout: 10_000 });

  await page.click("[data-testid=reveal-password]");
  await page.waitForFunction(() => document.querySelector("[data-testid=instance-password]")?.textContent === "Csp-Check-1234");

  // At the job's end the page reloads itself into the new state.
  await finishJob(h.services.db, jobId, { ok: false, error: { code: "test", message: "stopped by the test" } });
  await page.waitForFunction(() => document.querySelector("[data-testid=instance-state]")?.textContent === "failed", undefined, { timeout: 10_000 });
  // A form that asks first: dismissed, nothing is posted.
  let asked = "";
  page.once("dialog", (d) => {
    asked = d.message();
    void d.dismiss();
  });
  await page.click("[data-testid=instance-kill]");
  assert.match(asked, /Kill your instance/);
  assert.equal(await page.textContent("[data-testid=instance-state]"), "failed");

  // Devices: the key pair is made in the browser and the registration goes through the JSON API.
  await page.goto(`${origin}/kws_devices`);
  await page.waitForSelector("#generate:not([hidden])");
  await page.fill("#name", "csp laptop");
  await page.click("#generate");
  await page.waitForFunction(() => (document.getElementById("publicKey") as HTMLInputElement).value.length === 44);
  await page.click("[data-testid=device-register]");
  await page.waitForSelector("#browser-config:not([hidden])");
  assert.match((await page.textContent("#browser-config-text")) ?? "", /PrivateKey = [A-Za-z0-9+/]{43}=/);

  assert.deepEqual(violations, [], "no Content-Security-Policy violation");
  await context.close();
});

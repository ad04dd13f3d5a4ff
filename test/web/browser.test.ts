import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { serve, type ServerType } from "@hono/node-server";
import { chromium, type Browser } from "playwright-core";
import { newAccount, startHarness, type Harness } from "../support/harness";

const CHROMIUM = "/usr/bin/chromium";
let h: Harness;
let server: ServerType;
let origin: string;
let browser: Browser;

before(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run scripts/test-setup.sh (installs Debian's chromium)`);
  }
  h = await startHarness();
  server = serve({ fetch: h.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((resolve) => server.once("listening", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
  await h?.close();
});

test("register → mailed link → sign in → dashboard → sign out", async () => {
  const account = newAccount({ firstName: "Katherine", lastName: "Johnson" });
  const page = await browser.newPage();

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

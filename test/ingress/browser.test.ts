/**
 * Chromium (Debian's, through playwright-core) against the control plane's real server: opening an
 * owner-only app sends it through the KWS sign-in and back with the app host's own cookie; the
 * /kws_apps page publishes and removes apps.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { launchChromium } from "../support/chromium";
import { type RunningControlPlane, startControlPlane } from "../support/control-plane";
import { signedInUser } from "../support/harness";
import { AppServer } from "../support/app-server";
import { seedInstance } from "../support/ingress";

let cp: RunningControlPlane;
let app: AppServer;
let browser: Browser;
let ada: Awaited<ReturnType<typeof signedInUser>>;
let port: string;
const run = Math.random().toString(36).slice(2, 7);

before(async () => {
  app = await AppServer.start();
  cp = await startControlPlane();
  port = new URL(cp.appsUrl).port;
  ada = await signedInUser(cp.h);
  await seedInstance(cp.h.services.db, ada.userId);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await cp?.close();
  await app?.close();
});

test("an owner-only app: sign in on KWS, back to the same path with a host-only grant cookie the app never sees", async () => {
  const name = `own-${run}`;
  const res = await cp.h.call("POST", "/api/v1/apps", { body: { name, port: app.port }, headers: { cookie: ada.cookie } });
  assert.equal(res.status, 201, await res.text());
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`http://${name}.localhost:${port}/deep/page?x=1`);
  assert.match(page.url(), new RegExp(`^http://localhost:${port}/kws_signin\\?next=`), "sent to sign in on the control plane");
  await page.fill("#username", ada.account.username);
  await page.fill("#password", ada.account.password);
  await Promise.all([page.waitForURL(`http://${name}.localhost:${port}/deep/page?x=1`), page.click("button[type=submit]")]);
  assert.equal(await page.textContent("body"), "hello from the app: GET /deep/page?x=1");

  const cookies = await context.cookies();
  const grant = cookies.find((c) => c.name === "kws_app");
  assert.equal(grant?.domain, `${name}.localhost`, "host-only, for this app host");
  assert.equal(grant?.httpOnly, true);
  assert.equal(grant?.sameSite, "Lax");
  assert.ok(cookies.some((c) => c.name === "kws_session" && c.domain === "localhost"), "signed in on the control plane too");

  await page.reload();
  assert.equal(await page.textContent("body"), "hello from the app: GET /deep/page?x=1", "the grant holds without another sign-in");
  for (const { headers } of app.seen) assert.doesNotMatch(String(headers.cookie ?? ""), /kws_/, "no KWS cookie reached the app");
  await context.close();
});

test("/kws_apps lists, publishes and removes apps, linked from the dashboard", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`http://localhost:${port}/kws_signin`);
  await page.fill("#username", ada.account.username);
  await page.fill("#password", ada.account.password);
  await Promise.all([page.waitForURL(`http://localhost:${port}/`), page.click("button[type=submit]")]);
  await Promise.all([page.waitForURL(`http://localhost:${port}/kws_apps`), page.click("a[href='/kws_apps']")]);

  const name = `page-${run}`;
  await page.fill("#name", "Not A Label");
  await page.fill("#port", "3000");
  await page.click("[data-testid=app-create]");
  assert.match((await page.textContent("[data-field-error=name]")) ?? "", /DNS label/);

  await page.fill("#name", name);
  await page.fill("#port", "3000");
  await page.selectOption("#access", "public");
  await page.click("[data-testid=app-create]");
  const row = page.locator(`tr[data-app="${name}"]`);
  assert.equal(await row.locator("a").textContent(), `http://${name}.localhost:${port}/`);
  assert.equal(await row.locator("[data-cell=access]").textContent(), "public");

  page.once("dialog", (d) => void d.accept());
  await page.click(`[data-testid=remove-${name}]`);
  await page.waitForURL(`http://localhost:${port}/kws_apps`);
  assert.equal(await page.locator(`tr[data-app="${name}"]`).count(), 0);
  await context.close();
});

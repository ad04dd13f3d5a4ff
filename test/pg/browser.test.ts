/**
 * The managed-PostgreSQL page in Chromium under the Content-Security-Policy: the connection
 * string's copy button and select-on-focus, and the delete button that asks first, run as the
 * page's nonce'd script (they were inline handlers before the CSP).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ServerType } from "@hono/node-server";
import type { Browser } from "playwright-core";
import { launchChromium, serveForBrowser } from "../support/chromium";
import { watchCsp } from "../support/csp-watch";
import { signedInUser } from "../support/harness";
import { startPgService, type PgService } from "./support";

const USERS = "/kws_services/postgres/users";
let pg: PgService;
let server: ServerType;
let origin: string;
let browser: Browser;

before(async () => {
  pg = await startPgService();
  ({ origin, server } = await serveForBrowser(pg.h.app.fetch));
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  server?.close();
  await pg?.close();
});

test("create a database user, copy its connection string, delete it after confirming: no CSP violation", async () => {
  const { cookie } = await signedInUser(pg.h);
  const context = await browser.newContext();
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
  const [name, value] = cookie.split("=") as [string, string];
  await context.addCookies([{ name, value, url: origin }]);
  const page = await context.newPage();
  const violations = await watchCsp(page);

  await page.goto(`${origin}${USERS}`);
  await page.fill("#name", "csp_app");
  await page.click("text=Create database user");
  await page.waitForSelector("[data-testid=pg-secret]");
  const uri = await page.inputValue("[data-testid=pg-connection-uri]");
  assert.match(uri, /^postgres(ql)?:\/\/csp_app:/);

  await page.click("button[data-copy=pg-conn]");
  await page.waitForFunction(() => document.querySelector("button[data-copy=pg-conn]")?.textContent === "Copied");
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), uri);
  await page.focus("#pg-conn");
  const selected = await page.evaluate(() => {
    const input = document.getElementById("pg-conn") as HTMLInputElement;
    return [input.selectionStart, input.selectionEnd];
  });
  assert.deepEqual(selected, [0, uri.length], "the whole string is selected on focus");

  page.once("dialog", (d) => void d.dismiss());
  await page.click("[data-testid=delete-csp_app]");
  assert.ok(await page.isVisible("[data-testid=pg-user-csp_app]"), "dismissed: nothing deleted");
  page.once("dialog", (d) => void d.accept());
  await page.click("[data-testid=delete-csp_app]");
  await page.waitForSelector("[data-testid=pg-empty]");

  assert.deepEqual(violations, [], "no Content-Security-Policy violation");
  await context.close();
});

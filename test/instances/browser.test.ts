import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { launchChromium } from "../support/chromium";
import { Pipeline } from "../support/pipeline";

let p: Pipeline;
let browser: Browser;
let account: { username: string; cookie: string; token: string };

before(async () => {
  p = await Pipeline.start({ env: { KWS_BRIDGE_RANGE: "172.30.0.120-172.30.0.129", KWS_INSTANCE_IMAGE: "kws/debian-12", KWS_HOST_MEMORY_RESERVE_MB: "512" } });
  await p.until(async () => (await p.hostRow()).facts !== null, 20_000, "facts");
  account = await p.account();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  const kill = await p?.api("DELETE", "/instance", undefined, account?.token).catch(() => undefined);
  if (kill?.status === 202) await p.waitFinal(kill.body.job.id, 120_000, account.token).catch(() => undefined);
  await p?.close();
});

test("deploy from the page: live progress steps, then running with the IDE link; password on click; kill", async () => {
  const context = await browser.newContext();
  const [name, value] = account.cookie.split("=") as [string, string];
  await context.addCookies([{ name, value, url: p.url }]);
  const page = await context.newPage();
  await page.goto(`${p.url}/kws_instances`);
  assert.equal(await page.textContent("[data-testid=instance-state]"), "none");

  // A rule broken: the field says which, in words.
  await page.fill("#username", "root");
  await page.fill("#password", "Page-Deploy-123");
  await page.click("[data-testid=instance-deploy]");
  assert.match((await page.textContent("[data-field-error=username]")) ?? "", /system account/);

  await page.fill("#username", "ada");
  await page.fill("#password", "Page-Deploy-123");
  await page.click("[data-testid=instance-deploy]");
  // The steps appear one by one from the event stream while the job runs.
  await page.waitForSelector("#progress li[data-step=create]", { timeout: 60_000 });
  await page.waitForSelector("#progress li[data-step=user]", { timeout: 120_000 });
  // At the end the page shows the new state.
  await page.waitForFunction(() => document.querySelector("[data-testid=instance-state]")?.textContent === "running", undefined, { timeout: 180_000 });
  const steps = await page.$$eval("[data-testid=progress] li", (lis) => lis.map((li) => (li as HTMLElement).dataset.step));
  assert.deepEqual([...new Set(steps)], ["create", "start", "network", "dns", "user", "ssh", "ide"]);
  const ip = await page.textContent("[data-testid=instance-ip]");
  assert.match((await page.getAttribute("[data-testid=ide-link]", "href")) ?? "", /^http:\/\/[a-z0-9-]+\.localhost:\d+\/$/, "the IDE link is its app host");
  assert.equal(await page.textContent("[data-testid=ssh-command]"), `ssh ada@${ip}`);
  const ide = await fetch(`http://${ip}:8099/login`);
  assert.equal(ide.status, 200, "code-server answers at the bridge address");

  await page.click("[data-testid=reveal-password]");
  await page.waitForFunction(() => document.querySelector("[data-testid=instance-password]")?.textContent === "Page-Deploy-123");

  page.once("dialog", (d) => void d.accept());
  await page.click("[data-testid=instance-kill]");
  await page.waitForFunction(() => document.querySelector("[data-testid=instance-state]")?.textContent === "none", undefined, { timeout: 120_000 });
  await context.close();
});

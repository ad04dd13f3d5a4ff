import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { bodyAt, fetchApi } from "../support/api";
import { launchChromium } from "../support/chromium";
import type { SignedInAccount } from "../support/log-accounts";
import { Pipeline } from "../support/pipeline";
import { ScriptedAgent } from "../support/scripted-agent";

/**
 * The admin pages in Chromium against the real pipeline (control plane, gateway, an agent on LXD):
 * drain a host, suspend a person, redrive a dead-lettered job.
 */
let p: Pipeline;
let browser: Browser;
let admin: BrowserContext;
let page: Page;

before(async () => {
  p = await Pipeline.start({
    env: {
      KWS_BRIDGE_RANGE: "172.30.0.145-172.30.0.149",
      KWS_INSTANCE_IMAGE: "kws/busybox",
      KWS_INSTANCE_PROVISION: "false",
      KWS_INSTANCE_MEMORY_MB: "64",
      KWS_HOST_MEMORY_RESERVE_MB: "256",
    },
  });
  await p.until(async () => (await p.hostRow()).facts !== null, 20_000, "facts");
  browser = await launchChromium();
  admin = await signedIn(p.admin);
  page = await admin.newPage();
  page.on("dialog", (d) => void d.accept());
});
after(async () => {
  await browser?.close();
  await p?.close();
});

async function signedIn(account: SignedInAccount): Promise<BrowserContext> {
  const context = await browser.newContext();
  const [name, value] = account.cookie.split("=") as [string, string];
  await context.addCookies([{ name, value, url: p.url }]);
  return context;
}

const cell = (row: string, name: string) => page.textContent(`${row} [data-cell=${name}]`);

test("a person who is not an administrator gets 403 on the admin pages; signed out, sign-in", async () => {
  const someone = await p.account();
  const context = await signedIn(someone);
  const theirs = await context.newPage();
  const res = await theirs.goto(`${p.url}/kws_admin/hosts`);
  assert.equal(res?.status(), 403);
  await context.close();
  const anonymous = await browser.newContext();
  const signedOut = await anonymous.newPage();
  await signedOut.goto(`${p.url}/kws_admin/jobs`);
  assert.match(signedOut.url(), /\/kws_signin/);
  await anonymous.close();
});

test("hosts: drain a host and placement refuses it; undrain and it deploys; enrolling a new host shows its command line", async () => {
  const person = await p.account();
  const row = `tr[data-host="${p.host.name}"]`;
  await page.goto(`${p.url}/kws_admin/hosts`);
  assert.equal((await cell(row, "state"))?.startsWith("online"), true);
  await page.click(`[data-testid="drain-${p.host.name}"]`);
  await page.waitForSelector(`[data-testid="undrain-${p.host.name}"]`);
  assert.match((await cell(row, "state")) ?? "", /^draining/);

  const refused = await p.api("POST", "/instance", { username: "ada", password: "Drained-Pass-123" }, person.token);
  assert.equal(refused.status, 503);
  assert.equal(bodyAt(refused, 503).error.code, "no_capacity");

  await page.click(`[data-testid="undrain-${p.host.name}"]`);
  await page.waitForSelector(`[data-testid="drain-${p.host.name}"]`);
  const deployed = await p.deploy(person.token, { username: "ada", password: "Drained-Pass-123" });
  assert.equal((await p.lxd.getInstanceState(deployed.name)).status, "Running");
  await page.reload();
  assert.match((await cell(row, "instances")) ?? "", new RegExp(`${deployed.name} \\(${person.username}, running\\)`));
  const kill = await p.api("DELETE", "/instance", undefined, person.token);
  await p.waitFinal(bodyAt(kill, 202).job.id, 120_000, person.token);

  const name = `new-${Date.now().toString(36)}`;
  await page.fill("#name", name);
  await page.click("[data-testid=host-create]");
  const command = await page.inputValue("[data-testid=enroll-command]");
  assert.match(command, new RegExp(`^npm run agent -- --gateway ${p.url.replace(/[.]/g, "\\.")} --enroll kws_enroll_\\S+$`));
  const token = command.split(" ").pop()!;
  const enrolled = await fetchApi(p.url, "POST", "/api/v1/agent/enroll", { body: { token } });
  assert.equal(enrolled.status, 201, "the token shown enrolls an agent");
  await page.reload();
  assert.match((await page.textContent(`tr[data-host="${name}"]`)) ?? "", /offline/);
  const created = bodyAt(await p.api("GET", "/hosts"), 200).hosts.find((h) => h.name === name)!;
  await p.api("DELETE", `/hosts/${created.id}`);
});

test("people: suspending a person ends their session, revokes their token, refuses their sign-in and stops their instance; unsuspend lets them in", async () => {
  const person = await p.account();
  const deployed = await p.deploy(person.token, { username: "grace", password: "Suspend-Pass-123" });
  const theirs = await signedIn(person);
  const theirPage = await theirs.newPage();
  await theirPage.goto(`${p.url}/kws_instances`);
  assert.equal(await theirPage.textContent("[data-testid=instance-state]"), "running");

  await page.goto(`${p.url}/kws_admin/people`);
  await page.fill("[data-testid=people-search]", person.username);
  await page.click("[data-testid=people-search-submit]");
  const row = `tr[data-person="${person.username}"]`;
  assert.equal(await page.locator("[data-testid=people-list] tr[data-person]").count(), 1, "the search finds that one person");
  assert.equal(await cell(row, "state"), "active");
  await page.click(`[data-testid="suspend-${person.username}"]`);
  await page.waitForSelector(`[data-testid="unsuspend-${person.username}"]`);
  assert.equal(await cell(row, "state"), "suspended");

  // Their next page load goes to sign-in; their token is dead; signing in is refused.
  await theirPage.reload();
  assert.match(theirPage.url(), /\/kws_signin/);
  assert.equal((await p.api("GET", "/instance", undefined, person.token)).status, 401);
  const login = await fetchApi(p.url, "POST", "/api/v1/auth/login", { body: { username: person.username, password: person.password } });
  assert.equal(login.status, 403);
  assert.equal(bodyAt(login, 403).error.code, "suspended");
  await theirPage.fill("#username", person.username);
  await theirPage.fill("#password", person.password);
  await theirPage.click("button[type=submit]");
  assert.match((await theirPage.textContent("[role=alert]")) ?? "", /suspended/);

  // Their instance stops in LXD, through the normal stop job.
  await p.until(async () => (await p.lxd.getInstanceState(deployed.name)).status === "Stopped", 90_000, "the instance stopped");
  await p.until(async () => /stopped/.test((await cell(row, "instance")) ?? "") || (await page.reload(), false), 30_000, "the page shows it stopped");

  await page.click(`[data-testid="unsuspend-${person.username}"]`);
  await page.waitForSelector(`[data-testid="suspend-${person.username}"]`);
  assert.equal(await cell(row, "state"), "active");
  const again = await fetchApi(p.url, "POST", "/api/v1/auth/login", { body: { username: person.username, password: person.password } });
  assert.equal(again.status, 200);
  await theirs.close();
  const cookie = again.headers.get("set-cookie")!.split(";")[0]!;
  const kill = await fetchApi(p.url, "DELETE", "/api/v1/instance", { headers: { cookie } });
  await p.waitFinal(bodyAt(kill, 202).job.id, 120_000);
});

test("jobs: a dead-lettered job shows its reason and, redriven, runs again and succeeds", async () => {
  // A second host whose (scripted) agent takes the job and drops the connection, three times:
  // the message uses up its attempts and is dead-lettered.
  const created = bodyAt(await p.api("POST", "/hosts", { name: `dl-${Date.now().toString(36)}` }), 201);
  const { credential } = bodyAt(await fetchApi(p.url, "POST", "/api/v1/agent/enroll", { body: { token: created.enrollmentToken } }), 201);
  const job = bodyAt(await p.api("POST", `/hosts/${created.host.id}/jobs`, { kind: "noop", payload: {} }), 202).job;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const agent = await ScriptedAgent.connect(p.url, credential);
    agent.hello();
    await agent.next("welcome");
    assert.equal((await agent.next("command")).attempt, attempt);
    agent.terminate();
    await agent.waitClosed();
  }
  const failed = await p.waitFinal(job.id, 30_000);
  assert.equal(failed.error?.code, "attempts_exhausted");

  await page.goto(`${p.url}/kws_admin/jobs`);
  const row = `tr[data-job="${job.id}"]`;
  assert.match((await cell(row, "reason")) ?? "", /dead-lettered\s*attempts_exhausted: gave up after 3 delivery attempts/);

  const agent = await ScriptedAgent.connect(p.url, credential);
  agent.hello();
  await agent.next("welcome");
  await page.click(`[data-testid="redrive-${job.id}"]`);
  await page.waitForURL(`${p.url}/kws_admin/jobs`);
  const command = await agent.next("command");
  assert.equal(command.jobId, job.id);
  assert.equal(command.attempt, 1, "a new message, with attempts of its own");
  agent.send({ type: "result", jobId: job.id, ok: true, data: { ok: true } });
  await agent.next("ack");
  const done = await p.waitFinal(job.id, 10_000);
  assert.equal(done.status, "succeeded");
  assert.ok(done.steps.some((s) => s.step === "redrive"), "its steps say it was redriven");
  await page.reload();
  assert.equal(await page.locator(row).count(), 0, "no longer among the failed jobs");
  // A job that ran and succeeded cannot be redriven.
  assert.equal((await p.api("POST", `/admin/jobs/${job.id}/redrive`)).status, 409);
  agent.close();
  await p.api("DELETE", `/hosts/${created.host.id}`);
});

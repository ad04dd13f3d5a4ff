/**
 * Idle auto-stop and wake on access end to end: the control plane and an agent as processes, real
 * Debian instances (code-server, sshd) on LXD, with a 45-second idle time. Four people deploy at
 * at once: one leaves their instance alone, one holds an SSH session, one keeps VS Code open in
 * Chromium (its websocket through the ingress), one sends requests through the ingress, each
 * starting as soon as its instance runs. The idle
 * one is stopped through the normal stop job; the others stay up, each for the reason the API
 * names; then opening the stopped IDE's address starts it and, after the starting page, code-server
 * loads.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser, BrowserContext } from "playwright-core";
import { Client } from "ssh2";
import { bodyAt, type BodyOf } from "../support/api";
import { launchChromium } from "../support/chromium";
import { hostRequest } from "../support/ingress";
import type { SignedInAccount } from "../support/log-accounts";
import { Pipeline } from "../support/pipeline";

type Instance = BodyOf<"GET", "/api/v1/instance", 200>;
type Person = SignedInAccount & { name: string; instance: Instance; ide: URL };

const IDLE_MINUTES = 0.75;
const IDLE_MS = IDLE_MINUTES * 60_000;
const PASSWORD = "Idle-Stop-Test-1";
const roles = ["idle", "ssh", "ide", "ingress"] as const;
type Role = (typeof roles)[number];

let p: Pipeline;
let browser: Browser | undefined;
const people = {} as Record<Role, Person>;
let ssh: Client | undefined;
let requests: ReturnType<typeof setInterval> | undefined;
const ingressStatuses: number[] = [];

const show = async (who: { token: string }) => bodyAt(await p.api("GET", "/instance", undefined, who.token), 200);

/** A browser context signed in to KWS as `who` (its session cookie on the control plane). */
async function signedInContext(who: Person): Promise<BrowserContext> {
  const context = await browser!.newContext();
  const [name, value] = who.cookie.split("=") as [string, string];
  await context.addCookies([{ name, value, url: p.url }]);
  return context;
}

let started = 0;

before(async () => {
  started = Date.now();
  p = await Pipeline.start({
    env: {
      KWS_BRIDGE_RANGE: "172.30.0.150-172.30.0.159",
      KWS_INSTANCE_IMAGE: "kws/debian-12",
      KWS_INSTANCE_MEMORY_MB: "1024",
      KWS_HOST_MEMORY_RESERVE_MB: "512",
      KWS_IDLE_STOP_MINUTES: String(IDLE_MINUTES),
    },
  });
  await p.until(async () => (await p.hostRow()).facts !== null, 20_000, "facts");
  browser = await launchChromium();
  await Promise.all(
    roles.map(async (role) => {
      const account = await p.account();
      const { name } = await p.deploy(account.token, { username: "dev", password: PASSWORD }, 300_000);
      const instance = await show(account);
      assert.ok(instance.urls && instance.ip, `${role}: running with its addresses`);
      people[role] = { ...account, name, instance, ide: new URL(instance.urls.ide) };
      await keepBusy[role](people[role]);
    }),
  );
});

/** What each person does with their instance from the moment it runs. */
const keepBusy: Record<Role, (who: Person) => Promise<void>> = {
  idle: async () => undefined,
  // An SSH login that stays open: an established connection to port 22, from this machine over the bridge.
  ssh: async (who) => {
    ssh = new Client();
    await new Promise<void>((resolve, reject) =>
      ssh!.on("ready", resolve).on("error", reject).connect({ host: who.instance.ip!, port: 22, username: "dev", password: PASSWORD, readyTimeout: 20_000 }),
    );
  },
  // VS Code in Chromium: KWS's grant, code-server's login, the workbench and its websocket through the ingress.
  ide: async (who) => {
    const page = await (await signedInContext(who)).newPage();
    const ideSocket = new Promise<void>((resolve) =>
      page.on("websocket", (ws) => {
        if (new URL(ws.url()).host === who.ide.host) ws.once("framereceived", () => resolve());
      }),
    );
    await page.goto(who.ide.href);
    await page.fill("input[name=password]", PASSWORD);
    await Promise.all([page.waitForURL((u) => u.host === who.ide.host && u.pathname === "/", { waitUntil: "commit" }), page.press("input[name=password]", "Enter")]);
    await ideSocket;
  },
  // Requests through the ingress every 3 s (code-server's /healthz, which it does not count as use itself).
  ingress: async (who) => {
    const poke = () =>
      hostRequest(p.url, who.ide.host, { path: "/healthz", headers: { authorization: `Bearer ${who.token}` } }).then(
        (res) => ingressStatuses.push(res.status),
        () => ingressStatuses.push(0),
      );
    await poke();
    requests = setInterval(() => void poke(), 3000);
  },
};

after(async () => {
  clearInterval(requests);
  ssh?.end();
  await browser?.close();
  await Promise.all(
    Object.values(people).map(async (who) => {
      const kill = await p.api("DELETE", "/instance", undefined, who.token).catch(() => undefined);
      if (kill?.status === 202) await p.waitFinal(kill.body.job.id, 120_000, who.token).catch(() => undefined);
    }),
  );
  await p?.close();
});

test("an idle instance is stopped; an SSH session, an open IDE and ingress requests each keep theirs awake, and the API says which", async (t) => {
  t.diagnostic(`4 instances deployed and in use after ${Math.round((Date.now() - started) / 1000)} s`);
  // The idle one goes through the normal stop job.
  let idle: Instance | undefined;
  await p.until(async () => (idle = await show(people.idle)).state === "stopped", IDLE_MS + 90_000, "the idle instance stopped");
  assert.equal(idle!.job?.kind, "instance.stop");
  assert.equal(idle!.job?.status, "succeeded");
  assert.equal((await p.lxd.getInstanceState(people.idle.name)).status, "Stopped", "the container is stopped");

  // The others: by now their start is outside the idle time too, and the checker has looked since.
  const latestStart = Math.max(...(["ssh", "ide", "ingress"] as const).map((r) => new Date(people[r].instance.idle!.last.started!).getTime()));
  const settled = latestStart + IDLE_MS + 20_000 - Date.now();
  if (settled > 0) await new Promise((r) => setTimeout(r, settled));
  const [bySsh, byIde, byIngress] = await Promise.all([show(people.ssh), show(people.ide), show(people.ingress)]);
  for (const [who, shown] of [["ssh", bySsh], ["ide", byIde], ["ingress", byIngress]] as const) {
    assert.equal(shown.state, "running", `${who}: ${JSON.stringify(shown.idle)}`);
    assert.ok(!shown.idle!.awakeBecause.includes("started"), `${who}: not merely just started (${JSON.stringify(shown.idle)})`);
    assert.ok(new Date(shown.idle!.stopsAt!).getTime() > Date.now(), `${who}: its stop time lies ahead`);
  }
  assert.deepEqual(bySsh.idle!.awakeBecause, ["ssh"], JSON.stringify(bySsh.idle));
  assert.equal(bySsh.idle!.open.ssh, 1, "one SSH session open");
  assert.ok(byIde.idle!.awakeBecause.includes("streams"), `the IDE's open websocket, through the agent: ${JSON.stringify(byIde.idle)}`);
  assert.ok(byIde.idle!.open.streams! >= 1);
  assert.ok(!byIde.idle!.awakeBecause.includes("ssh"));
  assert.ok(byIngress.idle!.awakeBecause.includes("ingress"), JSON.stringify(byIngress.idle));
  assert.ok(ingressStatuses.length > 10 && ingressStatuses.every((s) => s === 200), `every request answered by code-server: ${ingressStatuses.join(",")}`);
  assert.ok(!byIngress.idle!.awakeBecause.includes("ssh"));
});

test("opening the stopped IDE's address starts it: a starting page that reloads until code-server answers", async (t) => {
  const asked = Date.now();
  const who = people.idle;
  const page = await (await signedInContext(who)).newPage();
  const response = await page.goto(who.ide.href);
  assert.equal(response?.status(), 503);
  assert.match(await page.textContent("body") ?? "", /was stopped and is starting now/);
  const start = await show(who);
  assert.equal(start.job?.kind, "instance.start", "the normal start job");
  // No click: the page reloads by itself until the IDE answers, which sends it to code-server's login.
  await page.waitForURL((u) => u.host === who.ide.host && u.pathname === "/login", { timeout: 120_000 });
  await page.locator("input[name=password]").waitFor({ state: "visible" });
  assert.equal((await show(who)).state, "running");
  t.diagnostic(`code-server's login ${Math.round((Date.now() - asked) / 1000)} s after the first request`);
});

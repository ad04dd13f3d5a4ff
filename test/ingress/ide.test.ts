/**
 * The IDE of a real Debian instance reached through the ingress alone: the control plane (npm
 * start's entry: API, gateway and ingress router) runs in a network namespace with no route to the
 * LXD bridge, so the agent's data stream is the only way its bytes can travel. Chromium, in that
 * namespace too, signs in on KWS, logs in to code-server and gets a VS Code workbench whose
 * websocket stays connected. Then Caddy, configured there by scripts/ingress-setup.sh with its
 * internal CA, serves the IDE and a published app of the container over HTTPS, and no certificate
 * for a name KWS does not know. One deploy serves every test: it takes minutes.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, WebSocket } from "playwright-core";
import { launchChromium } from "../support/chromium";
import { Namespace, sh } from "../support/netns";
import { bodyAt } from "../support/api";
import { Pipeline } from "../support/pipeline";
import { freePort } from "../support/processes";

const PASSWORD = "Ide-Through-Ingress-1";
const id = Math.random().toString(36).slice(2, 7);
const k = Math.floor(Math.random() * 250);
const dir = mkdtempSync(join(tmpdir(), "kws-ide-"));
const caddyConfig = join(dir, "caddy.json");
let ns: Namespace;
let p: Pipeline;
let browser: Browser | undefined;
let account: { username: string; password: string; token: string };
let instance: { name: string; ip: string; ide: URL };

before(async () => {
  if (spawnSync("which", ["caddy"]).status !== 0) throw new Error("caddy is missing: run scripts/test-setup.sh (installs Debian's caddy)");
  ns = Namespace.create(`ide${id}`, `10.219.${k}.1`, `10.219.${k}.2`);
  p = await Pipeline.start({
    netns: ns,
    env: { KWS_BRIDGE_RANGE: "172.30.0.190-172.30.0.199", KWS_INSTANCE_IMAGE: "kws/debian-12", KWS_HOST_MEMORY_RESERVE_MB: "512" },
  });
  await p.until(async () => (await p.hostRow()).facts !== null, 20_000, "facts");
  account = await p.account();
  const { name } = await p.deploy(account.token, { username: "ada", password: PASSWORD }, 300_000);
  const shown = bodyAt(await p.api("GET", "/instance", undefined, account.token), 200);
  assert.ok(shown.ip && shown.urls, "a running instance has its address and URLs");
  instance = { name, ip: shown.ip, ide: new URL(shown.urls.ide) };
});

after(async () => {
  await browser?.close();
  try {
    process.kill(Number(readFileSync(`${caddyConfig}.pid`, "utf8")), "SIGTERM");
  } catch {
    // Caddy never started.
  }
  const kill = await p?.api("DELETE", "/instance", undefined, account?.token).catch(() => undefined);
  if (kill?.status === 202) await p.waitFinal(kill.body.job.id, 120_000, account.token).catch(() => undefined);
  await p?.close();
  ns?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test("the control plane's namespace has no way to the bridge: code-server answers there only from the host", async () => {
  assert.equal(instance.ide.origin, `http://${instance.ide.hostname}:${new URL(p.url).port}`, "the IDE is an app host of the embedded *.localhost base");
  assert.match(instance.ide.hostname, /^[a-z0-9-]+\.localhost$/);
  assert.equal((await fetch(`http://${instance.ip}:8099/login`)).status, 200, "code-server runs, reachable from the agent's side");
  assert.notEqual(await ns.connect(instance.ip, 8099), "open", "nothing in the namespace reaches the bridge address");
});

test("Chromium opens the IDE URL: KWS sign-in, code-server login, a workbench whose websocket stays connected", async () => {
  browser = await launchChromium({ netns: ns.name });
  const page = await (await browser.newContext()).newPage();
  const sockets: { ws: WebSocket; sent: number; received: number; closed: boolean }[] = [];
  page.on("websocket", (ws) => {
    const seen = { ws, sent: 0, received: 0, closed: false };
    sockets.push(seen);
    ws.on("framesent", () => seen.sent++);
    ws.on("framereceived", () => seen.received++);
    ws.on("close", () => (seen.closed = true));
  });

  await page.goto(instance.ide.href);
  assert.ok(page.url().startsWith(`${p.url}/kws_signin?next=`), `the owner-only IDE sends a stranger to sign in on KWS (at ${page.url()})`);
  await page.fill("#username", account.username);
  await page.fill("#password", account.password);
  await Promise.all([page.waitForURL((u) => u.host === instance.ide.host && u.pathname === "/login"), page.click("button[type=submit]")]);

  // code-server's own login, on the IDE host behind KWS's grant.
  await page.fill("input[name=password]", PASSWORD);
  await Promise.all([page.waitForURL((u) => u.host === instance.ide.host && u.pathname === "/"), page.press("input[name=password]", "Enter")]);
  await page.locator(".monaco-workbench .part.statusbar").waitFor({ state: "visible", timeout: 90_000 });

  // The workbench's connection to its server: a websocket to the IDE host that carries frames both ways.
  const ideSocket = () => sockets.find((s) => new URL(s.ws.url()).host === instance.ide.host && s.sent > 0 && s.received > 0);
  await p.until(async () => ideSocket() !== undefined, 30_000, `code-server's websocket (seen: ${sockets.map((s) => s.ws.url()).join(", ")})`);
  const live = ideSocket()!;
  const received = live.received;
  // code-server's protocol sends a keep-alive every 5 s: frames keep arriving over a connection that lasts.
  await page.waitForTimeout(8_000);
  assert.equal(live.closed, false, "the websocket is still open");
  assert.ok(live.received > received, `frames kept arriving (${received} → ${live.received})`);
  assert.equal(sockets.filter((s) => s.closed && new URL(s.ws.url()).host === instance.ide.host).length, 0, "no websocket to the IDE closed (no reconnect)");
  assert.equal(await page.locator(".monaco-dialog-box").count(), 0, "no dialog (VS Code's \"Cannot reconnect\" is one)");
  assert.equal(await page.locator(".notification-toast", { hasText: /reconnect/i }).count(), 0, "no reconnecting notice");
});

/** curl from inside the namespace (Caddy and the control plane listen on its loopback): exit code, body, HTTP status. */
function curl(args: string[]): Promise<{ code: number; body: string; status: number; stderr: string }> {
  return new Promise((resolve) =>
    execFile("ip", ["netns", "exec", ns.name, "curl", "-sS", "--max-time", "20", "-w", "\n%{http_code}", ...args], (err, stdout, stderr) => {
      const cut = stdout.lastIndexOf("\n");
      resolve({ code: err ? Number(err.code ?? 1) : 0, body: stdout.slice(0, cut), status: Number(stdout.slice(cut + 1)), stderr });
    }),
  );
}

test("through Caddy with TLS: the IDE and a published app of the container over HTTPS, no certificate for an unknown name", async () => {
  const kwsPort = new URL(p.url).port;
  const [https, admin] = [await freePort(), await freePort()];
  // Caddy runs beside the control plane: its upstream and its ask both go to 127.0.0.1 there.
  sh("ip", [
    ...["netns", "exec", ns.name, "bash", "scripts/ingress-setup.sh"],
    ...["--apps-url", `http://localhost:${kwsPort}`, "--kws-port", kwsPort, "--http-port", String(await freePort())],
    ...["--https-port", String(https), "--admin", `localhost:${admin}`, "--config", caddyConfig, "--storage", join(dir, "caddy"), "--internal-ca"],
  ]);
  const root = join(dir, "root.pem");
  writeFileSync(root, sh("ip", ["netns", "exec", ns.name, "curl", "-fsS", `http://localhost:${admin}/pki/ca/local/certificates`]));
  const bearer = ["-H", `authorization: Bearer ${account.token}`];
  const tls = (host: string, path: string, extra: string[] = []) => curl(["--cacert", root, "--resolve", `${host}:${https}:127.0.0.1`, ...extra, `https://${host}:${https}${path}`]);

  const login = await tls(instance.ide.hostname, "/login", bearer);
  assert.equal(login.code, 0, `${login.stderr}\n${readFileSync(`${caddyConfig}.log`, "utf8").slice(-3000)}`);
  assert.equal(login.status, 200);
  assert.match(login.body, /code-server/, "code-server's login page, over HTTPS with a certificate for the IDE host");

  // A web server in the container, started with fixed arguments (nothing of the test's input in a shell).
  const app = `web-${id}`;
  const created = await p.api("POST", "/apps", { name: app, port: 8000 }, account.token);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal((await p.lxd.exec(instance.name, { command: ["mkdir", "-p", "/srv/web"] })).exitCode, 0);
  await p.lxd.pushFile(instance.name, "/srv/web/index.html", "hello from the Debian container\n");
  const started = await p.lxd.exec(instance.name, { command: ["systemd-run", "--unit", "kws-test-web", "python3", "-m", "http.server", "8000", "--directory", "/srv/web"] });
  assert.equal(started.exitCode, 0, started.stderr);
  const appHost = `${app}.localhost`;
  let page: Awaited<ReturnType<typeof tls>> | undefined;
  // systemd-run returns before the server listens.
  await p.until(async () => (page = await tls(appHost, "/", bearer)).status === 200, 20_000, "the app over HTTPS");
  assert.equal(page!.body, "hello from the Debian container\n");
  const anonymous = await tls(appHost, "/", ["-H", "accept: application/json"]);
  assert.equal(anonymous.status, 401, "owner-only: no grant, no page");

  const unknown = await tls(`nothing-${id}.localhost`, "/");
  assert.notEqual(unknown.code, 0, "no certificate for a name KWS does not know");
  assert.match(unknown.stderr, /SSL|TLS|alert/i);
});

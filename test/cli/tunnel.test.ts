/**
 * `kws tunnel` as a subprocess against the real control plane (Pipeline): a local HTTP server
 * served at its name (a request, a websocket echo, a 50 MB download intact), access levels as for
 * apps, names in use refused, the name freed when the CLI ends or is killed, kept through a
 * restart of the control plane.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { request } from "node:http";
import { after, before, test } from "node:test";
import WebSocket from "ws";
import { connectPostgres } from "../../shared/db/postgres";
import { AppServer, pattern } from "../support/app-server";
import { hostRequest, seedInstance } from "../support/ingress";
import { kwsProgram, runKws, signedInCli, waitForOutput } from "../support/kws-cli";
import { Pipeline } from "../support/pipeline";
import type { Program } from "../support/processes";

let p: Pipeline;
let app: AppServer;
let ada: { token: string; env: Record<string, string> };
let bob: { token: string; env: Record<string, string> };
const running = new Set<Program>();

before(async () => {
  p = await Pipeline.start({ env: { KWS_BRIDGE_RANGE: "172.30.0.220-172.30.0.229" } });
  app = await AppServer.start();
  const [a, b] = await Promise.all([p.userToken(), p.userToken()]);
  ada = { token: a, env: await signedInCli(p.url, a) };
  bob = { token: b, env: await signedInCli(p.url, b) };
});

after(async () => {
  for (const t of running) await t.stop("SIGKILL");
  await app?.close();
  await p?.close();
});

const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;

/** `kws tunnel` of `who` for the app server, once it says where it serves: its program and app host (`name.localhost:port`). */
async function tunnel(who: { env: Record<string, string> }, args: string[] = []) {
  const program = kwsProgram(["tunnel", String(app.port), ...args], who.env).start();
  running.add(program);
  const [, url] = await waitForOutput(program, /^Serving \S+ at (\S+) /);
  return { program, url: url!, host: new URL(url!).host };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Until `check` holds (every 100 ms), failing after `timeoutMs`: how long it took. */
async function within(timeoutMs: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function sha256Download(url: string, host: string, path: string, headers: Record<string, string>): Promise<{ status: number; bytes: number; sha256: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, path, headers: { ...headers, host }, agent: false }, (res) => {
      const hash = createHash("sha256");
      let bytes = 0;
      res.on("data", (c: Buffer) => {
        hash.update(c);
        bytes += c.length;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest("hex") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

test("a tunnel serves the local server at its name: a request, a websocket echo and a 50 MB download arrive intact", async () => {
  const name = unique("tun");
  const { host, url } = await tunnel(ada, ["--name", name]);
  assert.equal(url, `http://${name}.localhost:${new URL(p.url).port}/`);

  const res = await hostRequest(p.url, host, { path: "/hello?x=1", headers: bearer(ada.token) });
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), "hello from the app: GET /hello?x=1");
  // The local server never sees KWS's credential.
  assert.equal(app.seen.at(-1)?.headers.authorization, undefined);

  const ws = new WebSocket(`ws://127.0.0.1:${new URL(p.url).port}/echo`, { headers: { host, ...bearer(ada.token) } });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  const echoed = new Promise<Buffer>((resolve) => ws.once("message", (data) => resolve(data as Buffer)));
  ws.send(Buffer.from("ping through the tunnel"));
  assert.equal((await echoed).toString(), "ping through the tunnel");
  ws.close();

  const size = 50 * 1024 * 1024;
  const started = Date.now();
  const download = await sha256Download(p.url, host, `/big?size=${size}`, bearer(ada.token));
  assert.deepEqual(download, { status: 200, bytes: size, sha256: pattern(size).sha256 });
  console.log(`50 MB through the tunnel in ${Date.now() - started} ms`);
});

test("access levels apply as for apps: owner, authenticated, public", async () => {
  const owned = await tunnel(ada, ["--name", unique("own")]);
  assert.equal((await hostRequest(p.url, owned.host)).status, 401);
  assert.equal((await hostRequest(p.url, owned.host, { headers: bearer(bob.token) })).status, 403);
  assert.equal((await hostRequest(p.url, owned.host, { headers: bearer(ada.token) })).status, 200);
  // A browser without a grant is sent to sign in on the control plane, as for an app.
  const browser = await hostRequest(p.url, owned.host, { headers: { accept: "text/html" } });
  assert.equal(browser.status, 302);
  assert.match(String(browser.headers.location), /\/kws_authorize_app\?label=own-/);

  const members = await tunnel(ada, ["--name", unique("mem"), "--access", "authenticated"]);
  assert.equal((await hostRequest(p.url, members.host)).status, 401);
  assert.equal((await hostRequest(p.url, members.host, { headers: bearer(bob.token) })).status, 200);

  const open = await tunnel(ada, ["--name", unique("pub"), "--access", "public"]);
  assert.equal((await hostRequest(p.url, open.host)).status, 200);
  // A revoked or unknown KWS token is refused even on a public tunnel, as on a public app.
  assert.equal((await hostRequest(p.url, open.host, { headers: bearer("kws_not_a_token") })).status, 401);
});

test("a name in use by a tunnel, an app or an instance is refused with a clear 409; the app API refuses a tunnel's name", async () => {
  const name = unique("busy");
  await tunnel(ada, ["--name", name]);
  const second = await runKws(["tunnel", String(app.port), "--name", name], bob.env);
  assert.equal(second.code, 1, second.stderr);
  assert.match(second.stderr, new RegExp(`name: ${name} is in use by another tunnel; choose another with --name`));

  // Bob's instance (a row: an app needs one) and an app of his.
  const { db, close } = connectPostgres(p.databaseUrl, { max: 1 });
  try {
    const { user } = await p.apiAs(bob.token)("GET", "/me").then((r) => (r.status === 200 ? r.body : assert.fail(JSON.stringify(r.body))));
    const instance = await seedInstance(db, user.id, { label: unique("ide"), hostId: p.host.id });
    const appName = unique("shop");
    assert.equal((await p.apiAs(bob.token)("POST", "/apps", { name: appName, port: 3000 })).status, 201);
    for (const taken of [appName, instance.label]) {
      const refused = await runKws(["tunnel", String(app.port), "--name", taken], ada.env);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, new RegExp(`name: ${taken} is in use by an app or an instance`));
    }
    const clash = await p.apiAs(bob.token)("POST", "/apps", { name, port: 3000 });
    assert.equal(clash.status, 409, JSON.stringify(clash.body));
  } finally {
    await close();
  }
  const bad = await runKws(["tunnel", String(app.port), "--name", "Not_A_Label"], ada.env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /name: must be a DNS label/);
});

test("the name is freed when the CLI ends (at once) or is killed (within 5 s), and someone else may take it", async () => {
  const ended = await tunnel(ada, ["--name", unique("end")]);
  await ended.program.stop("SIGINT");
  assert.equal(ended.program.exited?.code, 0);
  assert.equal((await hostRequest(p.url, ended.host, { headers: bearer(ada.token) })).status, 404);

  const name = unique("kill");
  const killed = await tunnel(ada, ["--name", name]);
  await killed.program.stop("SIGKILL");
  // Held a moment for a CLI that comes back (503 meanwhile), then nobody's.
  const freedIn = await within(5000, "the name of a killed tunnel is free", async () => (await hostRequest(p.url, killed.host, { headers: bearer(ada.token) })).status === 404);
  const taken = await tunnel(bob, ["--name", name]);
  assert.equal((await hostRequest(p.url, taken.host, { headers: bearer(bob.token) })).status, 200);
  console.log(`a killed tunnel's name was free again after ${freedIn} ms`);
  assert.ok(freedIn < 5000);
});

test("a tunnel whose connection drops comes back with the same name (the control plane restarted under it)", async () => {
  const name = unique("back");
  const { program, host } = await tunnel(ada, ["--name", name]);
  const from = program.text.length;
  await p.controlPlane.stop("SIGKILL");
  // While it is away nobody else may take the name.
  await p.startControlPlane();
  const refused = await runKws(["tunnel", String(app.port), "--name", name], bob.env);
  assert.equal(refused.code, 1, refused.stderr);
  await waitForOutput(program, /reconnected; still serving/, 30_000, from);
  const res = await hostRequest(p.url, host, { headers: bearer(ada.token) });
  assert.equal(res.status, 200);
  assert.match(res.body.toString(), /hello from the app/);
});

/**
 * Caddy (Debian's package) in front of the control plane, configured by scripts/ingress-setup.sh
 * with its internal CA on high ports: a published app over HTTPS with a certificate issued on
 * demand, and no certificate for a name KWS does not know; people's custom domains (TXT records
 * from a real DNS server) get theirs once verified, with their app's access level.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type RunningControlPlane, startControlPlane } from "../support/control-plane";
import { bodyAt, replyOf } from "../support/api";
import { TestDns } from "../support/dns-server";
import { newDomain } from "../support/domains";
import { signedInUser } from "../support/harness";
import { AppServer } from "../support/app-server";
import { seedInstance } from "../support/ingress";
import { freePort } from "../support/processes";

let cp: RunningControlPlane;
let app: AppServer;
let dns: TestDns;
let cookie: string;
const dir = mkdtempSync(join(tmpdir(), "kws-caddy-"));
const config = join(dir, "caddy.json");
let https: number;
let admin: number;
const name = `tls-${Math.random().toString(36).slice(2, 7)}`;

before(async () => {
  if (spawnSync("which", ["caddy"]).status !== 0) throw new Error("caddy is missing: run scripts/test-setup.sh (installs Debian's caddy)");
  app = await AppServer.start();
  dns = await TestDns.start();
  cp = await startControlPlane({ config: { trustProxy: { hops: 1 }, dnsServers: [dns.server] } });
  const person = await signedInUser(cp.h);
  cookie = person.cookie;
  const { userId } = person;
  await seedInstance(cp.h.services.db, userId);
  const res = await cp.h.call("POST", "/api/v1/apps", { body: { name, port: app.port, access: "public" }, headers: { cookie } });
  assert.equal(res.status, 201, await res.text());
  [https, admin] = [await freePort(), await freePort()];
  const kwsPort = new URL(cp.url).port;
  execFileSync("bash", [
    "scripts/ingress-setup.sh",
    ...["--apps-url", cp.appsUrl, "--kws-port", kwsPort, "--http-port", String(await freePort()), "--https-port", String(https)],
    ...["--admin", `localhost:${admin}`, "--config", config, "--storage", join(dir, "storage"), "--internal-ca"],
  ]);
});

after(async () => {
  try {
    process.kill(Number(readFileSync(`${config}.pid`, "utf8")), "SIGTERM");
  } catch {
    // Never started.
  }
  await cp?.close();
  await app?.close();
  await dns?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** curl, asynchronously: the control plane answering Caddy's ask runs in this process. */
function curl(host: string, root: string, headers: string[] = []): Promise<{ status: number; stdout: string; stderr: string }> {
  const args = ["-sS", "--max-time", "20", "--cacert", root, "--resolve", `${host}:${https}:127.0.0.1`, ...headers.flatMap((h) => ["-H", h])];
  return new Promise((resolve) =>
    execFile("curl", [...args, "-w", "\n%{http_code}", `https://${host}:${https}/hello`], (err, stdout, stderr) =>
      resolve({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

/** Caddy's internal CA root, for curl. */
async function caddyRoot(): Promise<string> {
  const pem = await (await fetch(`http://localhost:${admin}/pki/ca/local/certificates`)).text();
  assert.match(pem, /BEGIN CERTIFICATE/);
  const root = join(dir, "root.pem");
  writeFileSync(root, pem);
  return root;
}

const api = (method: "POST" | "DELETE", path: string, body?: unknown) => cp.h.call(method, `/api/v1${path}`, { body, headers: { cookie } });

/** Claims `domain` for `appName`: answers the step that proves it (its TXT record in DNS, then verify). */
async function claim(domain: string, appName: string): Promise<() => Promise<void>> {
  const claimed = await api("POST", "/domains", { domain, app: appName });
  assert.equal(claimed.status, 201, await claimed.clone().text());
  const { verification } = ((await claimed.json()) as { domain: { verification: { name: string; value: string } } }).domain;
  return async () => {
    dns.txt.set(verification.name, [verification.value]);
    assert.equal((await api("POST", `/domains/${domain}/verify`)).status, 200);
  };
}

const tlsFailed = (r: { status: number; stderr: string }, what: string) => {
  assert.notEqual(r.status, 0, `${what}: no certificate`);
  assert.match(r.stderr, /SSL|TLS|alert/i, what);
};

test("an app over HTTPS with a certificate issued on demand; an unknown name gets none", async () => {
  const written = JSON.parse(readFileSync(config, "utf8"));
  assert.equal(written.apps.tls.automation.on_demand.ask, `http://127.0.0.1:${new URL(cp.url).port}/api/v1/ingress/ask`);
  assert.deepEqual(written.apps.http.servers.kws.routes[0].match, [{ host: ["*.localhost"] }], "one static wildcard route");
  const root = await caddyRoot();

  const ok = await curl(`${name}.localhost`, root);
  assert.equal(ok.status, 0, `${ok.stderr}\n${readFileSync(`${config}.log`, "utf8").slice(-3000)}`);
  assert.equal(ok.stdout, "hello from the app: GET /hello\n200");
  const seen = app.seen.at(-1)!.headers;
  assert.equal(seen["x-forwarded-proto"], "https", "the app knows it was reached over HTTPS");

  tlsFailed(await curl(`nothing-${name}.localhost`, root), "a name KWS does not know");
});

test("a custom domain gets its certificate once verified, and the app's access level; pending or removed ones get none", async () => {
  const written = JSON.parse(readFileSync(config, "utf8"));
  assert.deepEqual(written.apps.http.servers.kws.routes[1].handle[0].headers.request.set, { "X-Kws-Site": ["custom-domain"] }, "a static catch-all route, marked");
  const root = await caddyRoot();
  const shop = newDomain();
  const prove = await claim(shop, name);
  tlsFailed(await curl(shop, root), "a pending domain");
  await prove();
  const served = await curl(shop, root);
  assert.equal(served.status, 0, `${served.stderr}\n${readFileSync(`${config}.log`, "utf8").slice(-3000)}`);
  assert.equal(served.stdout, "hello from the app: GET /hello\n200", "a certificate issued on demand, and the app behind it");

  const ownerOnly = `own-${name}`;
  assert.equal((await api("POST", "/apps", { name: ownerOnly, port: app.port, access: "owner" })).status, 201);
  const privateDomain = newDomain("private");
  await (await claim(privateDomain, ownerOnly))();
  const anonymous = await curl(privateDomain, root);
  assert.equal(anonymous.status, 0);
  assert.match(anonymous.stdout, /\n401$/, "an owner-only app asks for credentials on its custom domain too");
  const { secret } = bodyAt(await replyOf(await api("POST", "/tokens", { name: "caddy test" })), 201);
  assert.equal((await curl(privateDomain, root, [`Authorization: Bearer ${secret}`])).stdout, "hello from the app: GET /hello\n200", "and lets its owner in");

  const unused = newDomain("unused");
  await (await claim(unused, name))();
  assert.equal((await api("DELETE", `/domains/${unused}`)).status, 204);
  tlsFailed(await curl(unused, root), "a domain removed before its first visit");

  // Caddy 2.6 keeps a certificate it holds until it expires (no runtime eviction): a removed domain
  // it already served still completes the handshake, and then gets KWS's 404 page, not the app.
  assert.equal((await api("DELETE", `/domains/${shop}`)).status, 204);
  const removed = await curl(shop, root);
  assert.match(removed.stdout, /Nothing here[\s\S]*\n404$/, "a removed domain reaches no app");
});

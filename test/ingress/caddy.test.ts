/**
 * Caddy (Debian's package) in front of the control plane, configured by scripts/ingress-setup.sh
 * with its internal CA on high ports: a published app over HTTPS with a certificate issued on
 * demand, and no certificate for a name KWS does not know.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type RunningControlPlane, startControlPlane } from "../support/control-plane";
import { signedInUser } from "../support/harness";
import { AppServer } from "../support/app-server";
import { seedInstance } from "../support/ingress";
import { freePort } from "../support/processes";

let cp: RunningControlPlane;
let app: AppServer;
const dir = mkdtempSync(join(tmpdir(), "kws-caddy-"));
const config = join(dir, "caddy.json");
let https: number;
let admin: number;
const name = `tls-${Math.random().toString(36).slice(2, 7)}`;

before(async () => {
  if (spawnSync("which", ["caddy"]).status !== 0) throw new Error("caddy is missing: run scripts/test-setup.sh (installs Debian's caddy)");
  app = await AppServer.start();
  cp = await startControlPlane({ config: { trustProxy: { hops: 1 } } });
  const { cookie, userId } = await signedInUser(cp.h);
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
  rmSync(dir, { recursive: true, force: true });
});

/** curl, asynchronously: the control plane answering Caddy's ask runs in this process. */
function curl(host: string, root: string): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile("curl", ["-sS", "--max-time", "20", "--cacert", root, "--resolve", `${host}:${https}:127.0.0.1`, `https://${host}:${https}/hello`], (err, stdout, stderr) =>
      resolve({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

test("an app over HTTPS with a certificate issued on demand; an unknown name gets none", async () => {
  const written = JSON.parse(readFileSync(config, "utf8"));
  assert.equal(written.apps.tls.automation.on_demand.ask, `http://127.0.0.1:${new URL(cp.url).port}/api/v1/ingress/ask`);
  assert.deepEqual(written.apps.http.servers.kws.routes[0].match, [{ host: ["*.localhost"] }], "one static wildcard route");

  const pem = await (await fetch(`http://localhost:${admin}/pki/ca/local/certificates`)).text();
  assert.match(pem, /BEGIN CERTIFICATE/);
  const root = join(dir, "root.pem");
  writeFileSync(root, pem);

  const ok = await curl(`${name}.localhost`, root);
  assert.equal(ok.status, 0, `${ok.stderr}\n${readFileSync(`${config}.log`, "utf8").slice(-3000)}`);
  assert.equal(ok.stdout, "hello from the app: GET /hello");
  const seen = app.seen.at(-1)!.headers;
  assert.equal(seen["x-forwarded-proto"], "https", "the app knows it was reached over HTTPS");

  const unknown = await curl(`nothing-${name}.localhost`, root);
  assert.notEqual(unknown.status, 0, "no certificate for a name KWS does not know");
  assert.match(unknown.stderr, /SSL|TLS|alert/i);
});

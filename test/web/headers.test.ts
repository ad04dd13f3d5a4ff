import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { insertOnlineHost } from "../support/online-host";
import { bodyAt, replyOf } from "../support/api";
import { signedInUser, startHarness, type Harness } from "../support/harness";

let dev: Harness;
let prod: Harness;
before(async () => {
  dev = await startHarness();
  prod = await startHarness({ env: { NODE_ENV: "production", PUBLIC_URL: "https://kws.test", KWS_SECRET_KEY: randomBytes(32).toString("base64") } });
});
after(async () => {
  await dev.close();
  await prod.close();
});

function csp(res: Response): Map<string, string[]> {
  const header = res.headers.get("content-security-policy");
  assert.ok(header, `${res.url} has a Content-Security-Policy`);
  return new Map(header.split(";").map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));
}

const nonceOf = (res: Response) => {
  const script = csp(res).get("script-src") ?? [];
  const nonce = script.find((v) => v.startsWith("'nonce-"));
  assert.ok(nonce, `script-src has a nonce: ${script.join(" ")}`);
  return nonce.slice("'nonce-".length, -1);
};

function assertSecurityHeaders(res: Response, what: string) {
  const policy = csp(res);
  assert.ok(!policy.get("script-src")!.includes("'unsafe-inline'"), `${what}: no unsafe-inline scripts`);
  assert.deepEqual(policy.get("frame-ancestors"), ["'none'"], what);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff", what);
  assert.equal(res.headers.get("referrer-policy"), "strict-origin-when-cross-origin", what);
  assert.equal(res.headers.get("x-frame-options"), "DENY", what);
}

test("pages, API answers, errors and the stylesheet carry the security headers; HSTS only in production", async () => {
  const { cookie } = await signedInUser(dev);
  for (const [path, headers] of [
    ["/kws_signin", {}],
    ["/", { cookie }],
    ["/api/v1/me", { cookie }],
    ["/api/v1/me", {}],
    ["/api/v1/no-such-route", {}],
    ["/kws_static/style.css", {}],
  ] as const) {
    const res = await dev.call("GET", path, { headers });
    assertSecurityHeaders(res, path);
    assert.equal(res.headers.get("strict-transport-security"), null, `${path}: no HSTS outside production`);
  }
  const refused = await dev.call("POST", "/api/v1/instance/stop", { headers: { cookie, origin: "https://evil.example" } });
  assertSecurityHeaders(refused, "a refused cross-site request");

  const page = await prod.call("GET", "/kws_signin");
  assertSecurityHeaders(page, "production page");
  assert.match(page.headers.get("strict-transport-security") ?? "", /max-age=\d{7,}/);
  assert.match((await prod.call("GET", "/api/v1/me")).headers.get("strict-transport-security") ?? "", /max-age=/);
});

test("every inline script of a page carries that response's nonce; a new nonce per response; no inline handlers", async () => {
  const { cookie } = await signedInUser(dev);
  await insertOnlineHost(dev.services.db);
  const deploy = await dev.call("POST", "/api/v1/instance", { body: { username: "ada", password: "Header-Check-123" }, headers: { cookie } });
  assert.equal(deploy.status, 202, await deploy.clone().text());
  const seen = new Set<string>();
  for (const path of ["/kws_instances", "/kws_devices", "/kws_services/postgres/users", "/", "/kws_signin", "/kws_register"]) {
    const signInPage = path === "/kws_signin" || path === "/kws_register";
    const res = await dev.call("GET", path, { headers: signInPage ? {} : { cookie } });
    assert.equal(res.status, path === "/kws_services/postgres/users" ? 503 : 200, path);
    const nonce = nonceOf(res);
    assert.ok(!seen.has(nonce), "nonces are not reused");
    seen.add(nonce);
    const html = await res.text();
    const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
    if (path === "/kws_instances" || path === "/kws_devices") assert.ok(scripts.length >= 2, `${path} has its scripts`);
    for (const tag of scripts) assert.ok(tag.includes(`nonce="${nonce}"`), `${path}: ${tag} carries the nonce`);
    assert.doesNotMatch(html, /\son[a-z]+=/i, `${path}: no inline event handlers`);
    assert.doesNotMatch(html, /\sstyle=/i, `${path}: no inline styles`);
  }
});

test("responses that carry a secret are not stored: revealed password, new token, device config with its private key", async () => {
  const { cookie } = await signedInUser(dev);
  await insertOnlineHost(dev.services.db);
  const deploy = await dev.call("POST", "/api/v1/instance", { body: { username: "ada", password: "Header-Check-123" }, headers: { cookie } });
  assert.equal(deploy.status, 202);
  const reveal = await dev.call("GET", "/api/v1/instance?reveal=password", { headers: { cookie } });
  assert.equal(bodyAt(await replyOf(reveal), 200).password, "Header-Check-123");
  assert.equal(reveal.headers.get("cache-control"), "no-store");

  const token = await dev.call("POST", "/api/v1/tokens", { body: { name: "cache check" }, headers: { cookie } });
  assert.equal(token.status, 201);
  assert.equal(token.headers.get("cache-control"), "no-store");

  const device = await dev.call("POST", "/api/v1/devices", { body: { name: "laptop" }, headers: { cookie } });
  assert.equal(device.status, 201, await device.clone().text());
  assert.match((await device.json()).config, /PrivateKey = [A-Za-z0-9+/]{43}=/);
  assert.equal(device.headers.get("cache-control"), "no-store");

  const page = await dev.call("GET", "/kws_instances", { headers: { cookie } });
  assert.equal(page.headers.get("cache-control"), "no-store");
  const style = await dev.call("GET", "/kws_static/style.css");
  assert.match(style.headers.get("cache-control") ?? "", /max-age=3600/, "a route's own caching stays");
});

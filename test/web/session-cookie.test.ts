import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { newAccount, signedInUser, startHarness, type Harness } from "../support/harness";

let prod: Harness;
let dev: Harness;
before(async () => {
  prod = await startHarness({ env: { NODE_ENV: "production", PUBLIC_URL: "https://kws.test", KWS_SECRET_KEY: randomBytes(32).toString("base64") } });
  dev = await startHarness({ env: { NODE_ENV: "development" } });
});
after(async () => {
  await prod.close();
  await dev.close();
});

const attributes = (setCookie: string) => setCookie.split(";").slice(1).map((a) => a.trim().toLowerCase());

test("production: the session cookie is __Host-kws_session, Secure, Path=/, without Domain", async () => {
  const account = newAccount();
  await prod.call("POST", "/api/v1/auth/register", { body: account });
  const verified = await prod.call("POST", "/api/v1/auth/verify", { body: { token: await prod.mailbox.verificationToken(account.email) } });
  assert.equal(verified.status, 200);
  const login = await prod.call("POST", "/api/v1/auth/login", { body: { username: account.username, password: account.password } });
  const set = login.headers.get("set-cookie")!;
  assert.match(set, /^__Host-kws_session=/);
  const attrs = attributes(set);
  for (const a of ["secure", "path=/", "httponly", "samesite=lax"]) assert.ok(attrs.includes(a), `${a} in ${set}`);
  assert.ok(!attrs.some((a) => a.startsWith("domain")), "no Domain");
});

test("production: a kws_session cookie planted by a sibling subdomain signs nobody in; the __Host- one does", async () => {
  const { cookie } = await signedInUser(prod);
  const token = cookie.slice(cookie.indexOf("=") + 1);
  assert.equal((await prod.call("GET", "/api/v1/me", { headers: { cookie } })).status, 200);
  assert.equal((await prod.call("GET", "/api/v1/me", { headers: { cookie: `kws_session=${token}` } })).status, 401);
  const page = await prod.call("GET", "/", { headers: { cookie: `kws_session=${token}` } });
  assert.equal(page.status, 303, "pages do not take it either");
  assert.match(page.headers.get("location") ?? "", /kws_signin/);
});

test("production: sign-out clears the __Host- cookie and ends the session", async () => {
  const { cookie } = await signedInUser(prod);
  const out = await prod.call("POST", "/api/v1/auth/logout", { headers: { cookie } });
  assert.equal(out.status, 204);
  const set = out.headers.get("set-cookie")!;
  assert.match(set, /^__Host-kws_session=;/);
  assert.ok(attributes(set).includes("secure"));
  assert.equal((await prod.call("GET", "/api/v1/me", { headers: { cookie } })).status, 401);
});

test("production: the sign-in form sets the __Host- session cookie next to the __Host- CSRF cookie", async () => {
  const { account } = await signedInUser(prod);
  const form = await prod.call("GET", "/kws_signin");
  const csrfCookie = form.headers.get("set-cookie")!.split(";")[0]!;
  assert.match(csrfCookie, /^__Host-kws_csrf=/);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  const res = await prod.app.request("/kws_signin", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: csrfCookie },
    body: new URLSearchParams({ _csrf: csrf, username: account.username, password: account.password }).toString(),
  });
  assert.equal(res.status, 303);
  assert.match(res.headers.get("set-cookie") ?? "", /__Host-kws_session=[^;]+;/);
});

test("development: the session cookie stays kws_session (plain HTTP keeps no __Host- cookie)", async () => {
  const { cookie } = await signedInUser(dev);
  assert.match(cookie, /^kws_session=/);
  assert.equal((await dev.call("GET", "/api/v1/me", { headers: { cookie } })).status, 200);
});

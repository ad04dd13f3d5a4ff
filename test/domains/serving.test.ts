/**
 * Custom domains served by the ingress on the control plane's real HTTP server, with a real app
 * (node:http on loopback, reached through the direct dialer) and a real DNS server for the TXT
 * records: a verified domain reaches its app with the app's access level and its own sign-in, and
 * nothing else does (pending, moved, removed); the ask endpoint follows.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import WebSocket from "ws";
import { bodyAt, replyOf } from "../support/api";
import { AppServer } from "../support/app-server";
import { type RunningControlPlane, startControlPlane } from "../support/control-plane";
import { TestDns } from "../support/dns-server";
import { newDomain } from "../support/domains";
import { signedInUser } from "../support/harness";
import { hostRequest, seedInstance, type HostResponse } from "../support/ingress";

let cp: RunningControlPlane;
let dns: TestDns;
let app: AppServer;
let other: AppServer;
let port: string;
const run = Math.random().toString(36).slice(2, 7);
const HTML = { accept: "text/html,application/xhtml+xml" };

interface Person {
  cookie: string;
  token: string;
  call: (method: "POST" | "PATCH" | "DELETE", path: string, body?: unknown) => Promise<Response>;
}
let ada: Person;
let bob: Person;

async function person(): Promise<Person> {
  const { cookie, userId } = await signedInUser(cp.h);
  await seedInstance(cp.h.services.db, userId, { label: `ide-${run}-${userId.slice(0, 6)}` });
  const call = (method: "POST" | "PATCH" | "DELETE", path: string, body?: unknown) => cp.h.call(method, `/api/v1${path}`, { body, headers: { cookie } });
  const { secret } = bodyAt(await replyOf(await call("POST", "/tokens", { name: "domains test" })), 201);
  return { cookie, token: secret, call };
}

const get = (domain: string, o: Parameters<typeof hostRequest>[2] = {}) => hostRequest(cp.url, `${domain}:${port}`, o);
const text = (r: HostResponse) => r.body.toString();
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const ask = (domain: string) => fetch(`${cp.url}/api/v1/ingress/ask?domain=${encodeURIComponent(domain)}`);

/** Claims `domain` for ada's `appName`, puts its TXT record in DNS and verifies it. */
async function verified(domain: string, appName: string): Promise<void> {
  const claimed = await ada.call("POST", "/domains", { domain, app: appName });
  assert.equal(claimed.status, 201, await claimed.clone().text());
  const { verification } = ((await claimed.json()) as { domain: { verification: { name: string; value: string } } }).domain;
  dns.txt.set(verification.name, [verification.value]);
  const res = await ada.call("POST", `/domains/${domain}/verify`);
  assert.equal(res.status, 200, await res.text());
}

before(async () => {
  dns = await TestDns.start();
  [app, other] = [await AppServer.start(), await AppServer.start()];
  cp = await startControlPlane({ config: { dnsServers: [dns.server] } });
  port = new URL(cp.appsUrl).port;
  ada = await person();
  bob = await person();
  for (const [name, server, access] of [[`pub-${run}`, app, "public"], [`own-${run}`, app, "owner"], [`alt-${run}`, other, "public"]] as const) {
    const res = await ada.call("POST", "/apps", { name, port: server.port, access });
    assert.equal(res.status, 201, await res.text());
  }
});

after(async () => {
  await cp?.close();
  await app?.close();
  await other?.close();
  await dns?.close();
});

test("a pending domain serves nothing; verified, it reaches its app, over HTTP and websockets; the ask follows", async () => {
  const domain = newDomain();
  const claimed = await ada.call("POST", "/domains", { domain, app: `pub-${run}` });
  assert.equal(claimed.status, 201);
  assert.equal((await ask(domain)).status, 404, "no certificate for a claim that is not proven");
  const pending = await get(domain, { path: "/hello" });
  assert.notEqual(text(pending), "hello from the app: GET /hello", "a pending claim reaches no app");
  assert.match(String(pending.headers["content-type"]), /json/, "the control plane's own answer (its 404), as for any other name");
  const strict = await get(domain, { path: "/hello", headers: { "x-kws-site": "custom-domain" } });
  assert.equal(strict.status, 404, "from Caddy's catch-all route: the ingress's 404 page, never the control plane's");
  assert.match(text(strict), /Nothing here/);

  const { verification } = ((await claimed.json()) as { domain: { verification: { name: string; value: string } } }).domain;
  dns.txt.set(verification.name, [verification.value]);
  assert.equal((await ada.call("POST", `/domains/${domain}/verify`)).status, 200);
  const served = await get(domain, { path: "/hello" });
  assert.equal(served.status, 200);
  assert.equal(text(served), "hello from the app: GET /hello", "at once: the verification forgot the name's earlier answer");
  assert.equal(app.seen.at(-1)!.headers.host, `${domain}:${port}`, "the app sees the Host its visitor sent");
  assert.equal((await get(domain.toUpperCase() + ".", { path: "/hello" })).status, 200, "any spelling of the name");
  assert.equal((await ask(domain)).status, 200, "Caddy may get a certificate for it");

  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket`, { headers: { host: `${domain}:${port}` } });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  const echo = new Promise<string>((resolve) => ws.once("message", (data: Buffer) => resolve(data.toString())));
  ws.send("over a custom domain");
  assert.equal(await echo, "over a custom domain");
  ws.close();
});

test("the app's access level applies on its custom domain, with a sign-in of that domain's own", async () => {
  const domain = newDomain("private");
  await verified(domain, `own-${run}`);
  assert.equal((await get(domain, { path: "/x" })).status, 401, "a client without a token");
  assert.equal((await get(domain, { path: "/x", headers: bearer(bob.token) })).status, 403, "another account");
  assert.equal(text(await get(domain, { path: "/x", headers: bearer(ada.token) })), "hello from the app: GET /x", "the owner's token");

  const first = await get(domain, { path: "/x", headers: HTML });
  assert.equal(first.status, 302, "a browser is sent to sign in");
  const authorize = new URL(String(first.headers.location));
  assert.equal(authorize.origin, `http://localhost:${port}`, "on the control plane");
  assert.equal(authorize.searchParams.get("label"), domain);
  const state = String(first.headers["set-cookie"]).match(/kws_app_state=[^;]+/)![0];
  const issued = await cp.h.call("GET", authorize.pathname + authorize.search, { headers: { cookie: ada.cookie } });
  assert.equal(issued.status, 303);
  const callback = new URL(issued.headers.get("location")!);
  assert.equal(callback.host, `${domain}:${port}`, "the code goes to the custom domain only");
  const traded = await get(domain, { path: callback.pathname + callback.search, headers: { cookie: state } });
  assert.equal(traded.status, 303);
  const grant = traded.headers["set-cookie"]!.find((c) => c.startsWith("kws_app="))!.split(";")[0]!;
  assert.equal(text(await get(domain, { path: "/x", headers: { cookie: grant } })), "hello from the app: GET /x", "the grant opens the app");
  assert.equal((await get(`pub-${run}.localhost`, { path: "/x", headers: { cookie: grant } })).status, 200);
  assert.equal((await get(`own-${run}.localhost`, { path: "/x", headers: { cookie: grant } })).status, 401, "the domain's grant counts on that domain only");

  const nowhere = await cp.h.call("GET", `/kws_authorize_app?label=${newDomain("evil")}&state=${"s".repeat(24)}`, { headers: { cookie: ada.cookie } });
  assert.equal(nowhere.status, 404, "no sign-in code (nor redirect) for a name that is not a verified domain");
});

test("moving a domain to another app, or removing it, shows at once", async () => {
  const domain = newDomain("moving");
  await verified(domain, `pub-${run}`);
  assert.equal(text(await get(domain, { path: "/a" })), "hello from the app: GET /a");
  const seenBefore = other.seen.length;
  assert.equal((await ada.call("PATCH", `/domains/${domain}`, { app: `alt-${run}` })).status, 200);
  assert.equal((await get(domain, { path: "/b" })).status, 200);
  assert.equal(other.seen.length, seenBefore + 1, "the request went to the app the domain moved to");

  assert.equal((await ada.call("DELETE", `/domains/${domain}`)).status, 204);
  const removed = await get(domain, { path: "/c", headers: { "x-kws-site": "custom-domain" } });
  assert.equal(removed.status, 404);
  assert.equal(other.seen.length, seenBefore + 1, "no request reached the app");
  assert.equal((await ask(domain)).status, 404);

  const appGone = newDomain("appgone");
  await verified(appGone, `alt-${run}`);
  assert.equal((await get(appGone, { path: "/d" })).status, 200);
  assert.equal((await ada.call("DELETE", `/apps/alt-${run}`)).status, 204);
  assert.equal((await get(appGone, { path: "/d", headers: { "x-kws-site": "custom-domain" } })).status, 404, "an app's domains go with it");
});

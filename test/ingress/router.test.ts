/**
 * The ingress router on the control plane's real HTTP server, with a real app (a node:http server
 * on loopback) reached through the direct dialer: the access matrix, the sign-in callback, what
 * the app sees, streaming both ways, websockets, SSE and the answers when nothing can be reached.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import type { Duplex } from "node:stream";
import { eq } from "drizzle-orm";
import WebSocket from "ws";
import { DialError, type StreamDialer } from "../../functions/ingress/stream-dialer";
import { instances, jobs } from "../../shared/db/schema";
import { type RunningControlPlane, startControlPlane } from "../support/control-plane";
import { DirectDialer } from "../support/direct-dialer";
import { bodyAt, replyOf } from "../support/api";
import { signedInUser } from "../support/harness";
import { AppServer, pattern } from "../support/app-server";
import { hostRequest, seedInstance, setInstanceState, type HostResponse } from "../support/ingress";

let cp: RunningControlPlane;
let app: AppServer;
let port: string;
const offlineHosts = new Set<string>();
const direct = new DirectDialer(2000);
const opened = new Set<{ hostId: string; stream: Duplex }>();
/**
 * The direct dialer, except for hosts a test declares offline: what the agent transport does then
 * (its streams end with the data connection, new dials fail with host_offline).
 */
const dialer: StreamDialer = {
  dial: async (target) => {
    if (offlineHosts.has(target.hostId)) throw new DialError("host_offline", "gone");
    const entry = { hostId: target.hostId, stream: await direct.dial(target) };
    opened.add(entry);
    entry.stream.once("close", () => opened.delete(entry));
    return entry.stream;
  },
};
function takeOffline(hostId: string) {
  offlineHosts.add(hostId);
  for (const { hostId: id, stream } of opened) if (id === hostId) stream.destroy();
}

interface Person {
  userId: string;
  cookie: string;
  token: string;
  username: string;
  password: string;
  instance: typeof instances.$inferSelect;
}
let ada: Person;
let bob: Person;
const names = { owner: "", authenticated: "", public: "" };
type Access = keyof typeof names;
const run = Math.random().toString(36).slice(2, 7);

async function person(): Promise<Person> {
  const { cookie, userId, account } = await signedInUser(cp.h);
  const res = await cp.h.call("POST", "/api/v1/tokens", { body: { name: "ingress test" }, headers: { cookie } });
  const { secret } = bodyAt(await replyOf(res), 201);
  const instance = await seedInstance(cp.h.services.db, userId, { label: `ide-${run}-${userId.slice(0, 6)}` });
  return { userId, cookie, token: secret, username: account.username, password: account.password, instance };
}

const host = (label: string) => `${label}.localhost:${port}`;
const get = (label: string, o: Parameters<typeof hostRequest>[2] = {}) => hostRequest(cp.url, host(label), o);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const HTML = { accept: "text/html,application/xhtml+xml" };

/** A browser's first visit without a grant: the sign-in URL on the control plane, and the state cookie it got with it. */
async function startSignIn(label: string, path = "/") {
  const first = await get(label, { path, headers: HTML });
  assert.equal(first.status, 302, "a browser without a grant is sent to sign in");
  const state = String(first.headers["set-cookie"]).match(/kws_app_state=[^;]+/)?.[0];
  assert.ok(state, "the sign-in's state stays with this browser");
  assert.match(String(first.headers["set-cookie"]), /Path=\/\.kws\/; HttpOnly/i);
  return { authorize: new URL(String(first.headers.location)), state };
}

/** The control plane's answer to a signed-in person: the app host's callback URL with a code. */
async function codeFor(p: Person, authorize: URL): Promise<URL> {
  const issued = await cp.h.call("GET", authorize.pathname + authorize.search, { headers: { cookie: p.cookie } });
  assert.equal(issued.status, 303);
  return new URL(issued.headers.get("location")!);
}

/** The sign-in redirect followed by hand (a cookie jar of one cookie per host): the grant cookie for `label`. */
async function grant(p: Person, label: string, path = "/"): Promise<string> {
  const { authorize, state } = await startSignIn(label, path);
  assert.equal(authorize.origin, `http://localhost:${port}`, "on the control plane");
  const callback = await codeFor(p, authorize);
  assert.equal(callback.host, host(label), "the code goes to that app host only");
  const traded = await get(label, { path: callback.pathname + callback.search, headers: { cookie: state } });
  assert.equal(traded.status, 303);
  assert.equal(traded.headers.location, path, "back to where the visitor wanted to go");
  const setCookie = traded.headers["set-cookie"]?.find((c) => c.startsWith("kws_app=")) ?? "";
  assert.match(setCookie, /^kws_app=[^;]+;/);
  assert.match(setCookie, /HttpOnly/i);
  assert.match(setCookie, /SameSite=Lax/i);
  assert.doesNotMatch(setCookie, /Domain=/i, "host-only");
  return setCookie.split(";")[0]!;
}

before(async () => {
  app = await AppServer.start();
  cp = await startControlPlane({ dialer, config: { ingressAskSecret: "ask-secret-for-tests" } });
  port = new URL(cp.appsUrl).port;
  ada = await person();
  bob = await person();
  for (const access of ["owner", "authenticated", "public"] as const) {
    names[access] = `${access.slice(0, 4)}-${run}`;
    const res = await cp.h.call("POST", "/api/v1/apps", { body: { name: names[access], port: app.port, access }, headers: { cookie: ada.cookie } });
    assert.equal(res.status, 201, await res.text());
  }
});

after(async () => {
  await cp?.close();
  await app?.close();
});

describe("access", () => {
  const expect = (r: HostResponse, status: number, what: string) => assert.equal(r.status, status, `${what}: ${r.body.toString().slice(0, 200)}`);

  test("the matrix: owner, another account, anonymous browser, anonymous client, revoked token × owner, authenticated, public", async () => {
    const revoked = await cp.h.call("POST", "/api/v1/tokens", { body: { name: "to revoke" }, headers: { cookie: bob.cookie } });
    const { secret, token } = bodyAt(await replyOf(revoked), 201);
    assert.equal((await cp.h.call("DELETE", `/api/v1/tokens/${token.id}`, { headers: { cookie: bob.cookie } })).status, 204);

    const table: Record<string, Record<Access, number>> = {
      owner: { owner: 200, authenticated: 200, public: 200 },
      other: { owner: 403, authenticated: 200, public: 200 },
      browser: { owner: 302, authenticated: 302, public: 200 },
      client: { owner: 401, authenticated: 401, public: 200 },
      revoked: { owner: 401, authenticated: 401, public: 401 },
    };
    const headers: Record<string, Record<string, string>> = {
      owner: bearer(ada.token),
      other: bearer(bob.token),
      browser: HTML,
      client: { accept: "application/json" },
      revoked: bearer(secret),
    };
    for (const [who, row] of Object.entries(table)) {
      for (const [access, status] of Object.entries(row) as [Access, number][]) {
        const r = await get(names[access], { headers: headers[who] });
        expect(r, status, `${who} on ${access}`);
        if (status === 200) assert.match(r.body.toString(), /^hello from the app/);
        if (status === 401) {
          const body = JSON.parse(r.body.toString());
          assert.equal(body.error.code, "unauthorized");
          assert.ok(body.error.requestId);
        }
        if (status === 403) assert.match(r.body.toString(), /no access/);
        if (status === 302) assert.match(String(r.headers.location), new RegExp(`^http://localhost:${port}/kws_authorize_app\\?label=${names[access]}&path=%2F&state=[\\w-]+$`));
      }
    }
  });

  test("grant cookies from the sign-in callback: the owner everywhere, another account not on owner apps, never on another host", async () => {
    const adaOwner = await grant(ada, names.owner, "/deep/path?x=1");
    const page = await get(names.owner, { path: "/deep/path?x=1", headers: { ...HTML, cookie: adaOwner } });
    assert.equal(page.status, 200);
    assert.equal(page.body.toString(), "hello from the app: GET /deep/path?x=1");

    const bobOwner = await grant(bob, names.owner);
    assert.equal((await get(names.owner, { headers: { ...HTML, cookie: bobOwner } })).status, 403, "wrong person: 403 page");
    const bobAuth = await grant(bob, names.authenticated);
    assert.equal((await get(names.authenticated, { headers: { cookie: bobAuth } })).status, 200);

    const elsewhere = await get(names.authenticated, { headers: { ...HTML, cookie: adaOwner } });
    assert.equal(elsewhere.status, 302, "a grant is for the host it was issued on");
  });

  test("a code works once, on its own host, and only a same-host path is a destination", async () => {
    const { authorize, state } = await startSignIn(names.owner, "//evil.example/x");
    const callback = await codeFor(ada, authorize);
    const onOther = await get(names.public, { path: callback.pathname + callback.search, headers: { cookie: state } });
    assert.equal(onOther.status, 400, "a code of another host is refused (and used up)");
    assert.equal((await get(names.owner, { path: callback.pathname + callback.search, headers: { cookie: state } })).status, 400, "used once");

    const back = await codeFor(ada, authorize);
    const traded = await get(names.owner, { path: back.pathname + back.search, headers: { cookie: state } });
    assert.equal(traded.status, 303);
    assert.equal(traded.headers.location, "/", "no open redirect: //evil.example becomes /");

    const planted = await codeFor(bob, (await startSignIn(names.authenticated)).authorize);
    const victim = await startSignIn(names.authenticated);
    const csrf = await get(names.authenticated, { path: planted.pathname + planted.search, headers: { cookie: victim.state } });
    assert.equal(csrf.status, 400, "a code someone else obtained does not sign this browser in as them");
    assert.doesNotMatch(String(csrf.headers["set-cookie"]), /kws_app=/);

    const signedOut = await cp.h.call("GET", authorize.pathname + authorize.search);
    assert.equal(signedOut.status, 303);
    assert.match(signedOut.headers.get("location")!, /^\/kws_signin\?next=%2Fkws_authorize_app/, "signed out: sign in first, then come back");
  });
});

describe("what the app sees", () => {
  test("no KWS cookie or token; other cookies, X-Forwarded-* and the Host as the visitor sent them", async () => {
    app.seen.length = 0;
    const adaPublic = await grant(ada, names.owner);
    for (const [label, headers] of [
      [names.public, { cookie: `kws_session=s3ss10n; theme=dark; kws_app=grant; kws_csrf=c; kws_app_state=s`, ...bearer(ada.token) }],
      [names.owner, { cookie: `${adaPublic}; theme=dark; kws_session=s3ss10n` }],
      [names.owner, { ...bearer(ada.token), cookie: "theme=dark" }],
    ] as const) {
      const r = await get(label, { path: "/headers", headers });
      assert.equal(r.status, 200);
    }
    assert.equal(app.seen.length, 3);
    for (const { headers } of app.seen) {
      assert.equal(headers.cookie, "theme=dark", "only the app's own cookie arrives");
      assert.equal(headers.authorization, undefined);
      assert.equal(headers["x-forwarded-for"], "127.0.0.1");
      assert.equal(headers["x-forwarded-proto"], "http");
      assert.match(String(headers["x-forwarded-host"]), new RegExp(`\\.localhost:${port}$`));
      assert.equal(headers.host, headers["x-forwarded-host"]);
    }
    const r = await get(names.public, { headers: { authorization: "Bearer app-own-token" } });
    assert.equal(r.status, 200);
    assert.equal(app.seen.at(-1)?.headers.authorization, "Bearer app-own-token", "an app's own bearer token is the app's business");
    assert.deepEqual(r.headers["set-cookie"], ["app_a=1; Path=/", "app_b=2; Path=/"], "repeated response headers stay apart");
  });
});

describe("streams", () => {
  test("a 100 MiB download arrives intact, and a 32 MiB upload too", async () => {
    const size = 100 * 1024 * 1024;
    const down = await get(names.public, { path: `/big?size=${size}` });
    assert.equal(down.status, 200);
    assert.equal(down.body.length, size);
    assert.equal(createHash("sha256").update(down.body).digest("hex"), pattern(size).sha256);

    const body = Buffer.concat([...pattern(32 * 1024 * 1024).chunks()]);
    const up = await get(names.public, { method: "POST", path: "/upload", body, headers: { "content-type": "application/octet-stream" } });
    assert.equal(up.status, 200, up.body.toString());
    assert.deepEqual(JSON.parse(up.body.toString()), { bytes: body.length, sha256: createHash("sha256").update(body).digest("hex") });
  });

  test("a client that leaves mid-download ends the app's response too (no stream left open)", async () => {
    const req = request({ host: "127.0.0.1", port, path: `/big?size=${4 * 1024 * 1024 * 1024}`, headers: { host: host(names.public) } });
    await new Promise<void>((resolve, reject) => {
      req.on("response", (res) => res.once("data", () => resolve()));
      req.on("error", reject);
      req.end();
    });
    assert.equal(app.openDownloads, 1, "the download runs, held back by the client that does not read");
    req.destroy();
    const deadline = Date.now() + 5000;
    while (app.openDownloads > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(app.openDownloads, 0, "the app's side closed once the client left");
  });

  test("requests reuse a kept-alive connection to the app; one the app closed is not reused", async () => {
    const connectionOf = async () => {
      const r = await get(names.public, { path: "/keep-alive" });
      assert.equal(r.status, 200, r.body.toString());
      return app.seen.at(-1)!.remotePort;
    };
    const first = await connectionOf();
    assert.equal(await connectionOf(), first, "the second request came over the first one's connection");
    app.closeIdleConnections();
    await new Promise((r) => setTimeout(r, 100));
    assert.notEqual(await connectionOf(), first, "a new connection after the app closed the idle one");
  });

  test("server-sent events arrive as they are sent", async () => {
    const started = Date.now();
    const { first, all } = await new Promise<{ first: number; all: string }>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, path: "/sse", headers: { host: host(names.public), accept: "text/event-stream" } }, (res) => {
        let text = "";
        let first = 0;
        res.on("data", (c: Buffer) => {
          if (!first) first = Date.now() - started;
          text += c.toString();
        });
        res.on("end", () => resolve({ first, all: text }));
      });
      req.on("error", reject);
      req.end();
    });
    assert.ok(first < 800, `the first event came after ${first} ms, not when the stream ended`);
    assert.equal(all, "data: first\n\ndata: second\n\n");
  });

  test("a websocket echoes through the router, with the owner's token on an owner-only app", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket`, { headers: { host: host(names.owner), ...bearer(ada.token) } });
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const big = Buffer.alloc(1024 * 1024, 7);
    const echoes: Buffer[] = [];
    ws.on("message", (data: Buffer) => echoes.push(data));
    ws.send("hello");
    ws.send(big);
    await new Promise<void>((resolve) => {
      const check = setInterval(() => echoes.length === 2 && (clearInterval(check), resolve()), 10);
    });
    assert.equal(echoes[0]!.toString(), "hello");
    assert.ok(echoes[1]!.equals(big));
    ws.close();
    assert.equal(app.seen.at(-1)?.headers.authorization, undefined, "the upgrade carried no KWS token to the app");

    const refused = new WebSocket(`ws://127.0.0.1:${port}/socket`, { headers: { host: host(names.owner), ...bearer(bob.token) } });
    const status = await new Promise<number>((resolve) => refused.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0)));
    assert.equal(status, 403, "another person's upgrade is refused");
  });
});

describe("nothing to reach", () => {
  test("an unknown name is a 404 page; an app that does not answer a 502 page naming the port; an offline host a 503 page", async () => {
    const unknown = await get(`nothing-${run}`, { headers: HTML });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.toString(), /No instance, app or tunnel is published as/);

    const dead = `dead-${run}`;
    const closedPort = 1; // tcpmux: nothing listens there
    await cp.h.call("POST", "/api/v1/apps", { body: { name: dead, port: closedPort, access: "public" }, headers: { cookie: ada.cookie } });
    const refused = await get(dead);
    assert.equal(refused.status, 502);
    assert.match(refused.body.toString(), /Nothing answers on port <code>1<\/code>/);

    takeOffline(ada.instance.hostId);
    try {
      const offline = await get(names.public);
      assert.equal(offline.status, 503);
      assert.match(offline.body.toString(), /host .* is not connected/);
    } finally {
      offlineHosts.delete(ada.instance.hostId);
    }
  });

  test("the IDE host is the owner's only; a stopped instance is woken by its owner's request: a starting page while the start job runs", async () => {
    const ide = ada.instance.label;
    assert.equal((await get(ide, { headers: bearer(bob.token) })).status, 403);
    const noIde = await get(ide, { headers: bearer(ada.token) });
    assert.equal(noIde.status, 502, "nothing on 8099 here");
    assert.match(noIde.body.toString(), /port <code>8099<\/code>/);

    await setInstanceState(cp.h.services.db, ada.instance.id, "stopped");
    const latestJob = async () => {
      const [row] = await cp.h.services.db.select().from(instances).where(eq(instances.id, ada.instance.id));
      return row?.jobId ? (await cp.h.services.db.select().from(jobs).where(eq(jobs.id, row.jobId)))[0] : undefined;
    };
    try {
      const before = await latestJob();
      assert.equal((await get(ide, { headers: { ...HTML, ...bearer(bob.token) } })).status, 403, "access rules first: another person wakes nothing");
      assert.equal((await get(ide, { headers: HTML })).status, 302, "a stranger is sent to sign in");
      assert.equal((await latestJob())?.id, before?.id, "no job for them");

      const woken = await get(ide, { headers: { ...HTML, ...bearer(ada.token) } });
      assert.equal(woken.status, 503);
      assert.equal(woken.headers["retry-after"], "5");
      assert.match(woken.body.toString(), /This instance was stopped and is starting now/);
      assert.match(woken.body.toString(), /http-equiv="refresh"/, "the page reloads by itself");
      const start = await latestJob();
      assert.equal(start?.kind, "instance.start", "the normal start job");

      const again = await get(ide, { headers: { ...HTML, ...bearer(ada.token) } });
      assert.match(again.body.toString(), /starting now/, "while the start runs the page says so");
      assert.equal((await latestJob())?.id, start?.id, "a reload starts nothing more");
    } finally {
      await setInstanceState(cp.h.services.db, ada.instance.id, "running");
    }
  });
});

describe("ask", () => {
  const ask = (domain: string, headers: Record<string, string> = {}, secret?: string) =>
    fetch(`${cp.url}/api/v1/ingress/ask?domain=${encodeURIComponent(domain)}${secret ? `&secret=${secret}` : ""}`, { headers });

  test("200 for names that exist, 404 otherwise; only from loopback without a proxy's header, or with the secret", async () => {
    assert.equal((await ask(`${names.owner}.localhost`)).status, 200);
    assert.equal((await ask(`${ada.instance.label}.localhost`)).status, 200);
    assert.equal((await ask(`nothing-${run}.localhost`)).status, 404);
    assert.equal((await ask(`${names.owner}.example.org`)).status, 404, "not an app host, nor a verified custom domain");
    assert.equal((await ask(`a.${names.owner}.localhost`)).status, 404);
    assert.equal((await ask(`${names.owner}.localhost`, { "x-forwarded-for": "203.0.113.9" })).status, 403, "through a proxy: not Caddy's own ask");
    assert.equal((await ask(`${names.owner}.localhost`, { "x-forwarded-for": "203.0.113.9" }, "wrong")).status, 403);
    assert.equal((await ask(`${names.owner}.localhost`, { "x-forwarded-for": "203.0.113.9" }, "ask-secret-for-tests")).status, 200);
  });
});

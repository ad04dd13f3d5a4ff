/**
 * The edge deployment, for real: functions/edge.ts bundled by scripts/build-edge.ts and run in
 * workerd (the miniflare package) against the real PostgreSQL (a fresh database) and the real
 * Redis (through the Upstash bridge, started here). Then the account made at the edge signs in
 * on the Node control plane over the same database and Redis, and sessions work both ways.
 *
 * DATABASE_URL, when set, is the admin base for the fresh database (default
 * postgres://root@127.0.0.1:5432/postgres); REDIS_URL the Redis (default redis://127.0.0.1:6379).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { Redis } from "ioredis";
import { Miniflare } from "miniflare";
import postgres from "postgres";
import { createControlPlane } from "../../functions/control-plane";
import { createNodeServices, type NodeServices } from "../../functions/node-services";
import { buildEdgeWorker } from "../../scripts/build-edge";
import { parseConfig } from "../../shared/config";
import { migrateDatabase } from "../../shared/db/migrate";
import { connectPostgres } from "../../shared/db/postgres";
import { UpstashKV } from "../../shared/kv/upstash";
import { createLogger } from "../../shared/logger";
import { replyOf, type ApiMethod, type ApiResponse } from "../support/api";
import { startUpstashBridge, type UpstashBridge } from "../upstash-bridge/server";

const adminUrl = process.env.DATABASE_URL || "postgres://root@127.0.0.1:5432/postgres";
const redisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";
const PUBLIC_URL = "http://kws.test";
const UNCONFIGURED_URL = "http://unconfigured.test";
const CAPPED_URL = "http://capped.test";

/**
 * Cloudflare's production runtime refuses PBKDF2 above 100 000 iterations (workerd#1346); the
 * open-source workerd here does not. This entry puts the production rule in front of the bundle.
 */
const CAPPED_ENTRY = `import worker from "./worker.js";
const subtle = Object.getPrototypeOf(crypto.subtle);
const deriveBits = subtle.deriveBits;
subtle.deriveBits = function (algorithm, key, length) {
  if (algorithm && algorithm.name === "PBKDF2" && algorithm.iterations > 100000) {
    return Promise.reject(new DOMException(
      "Pbkdf2 failed: iteration counts above 100000 are not supported (requested " + algorithm.iterations + ").",
      "NotSupportedError"));
  }
  return deriveBits.call(this, algorithm, key, length);
};
export default worker;
`;
const token = `edge-test-${Math.random().toString(36).slice(2)}`;
const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
// The edge worker writes its keys without a prefix; the bridge namespaces them for this run.
const keyPrefix = `edgetest:${run}:`;
const dbName = `kws_edge_${run}`;
// A client address of this run, so rate-limit buckets are not shared with anything else.
const clientIp = `198.51.100.${Math.floor(Math.random() * 250) + 1}`;

let workDir: string;
let admin: postgres.Sql;
let databaseUrl: string;
let bridge: UpstashBridge;
let mf: Miniflare;
let node: { services: NodeServices; app: ReturnType<typeof createControlPlane> } | undefined;

/** Every JSON line the worker printed; waiters are woken on each new one. */
const workerLines: Record<string, unknown>[] = [];
const workerText: string[] = [];
let wake: (() => void)[] = [];

function capture(stream: Readable, kind: "stdout" | "stderr") {
  createInterface({ input: stream }).on("line", (line) => {
    workerText.push(`${kind}: ${line}`);
    if (process.env.KWS_TEST_LOG) console.log(`[workerd ${kind}] ${line}`);
    try {
      const record = JSON.parse(line) as Record<string, unknown>;
      if (record && typeof record === "object") workerLines.push(record);
    } catch {
      return;
    }
    for (const w of wake.splice(0)) w();
  });
}

async function workerLine(match: (r: Record<string, unknown>) => boolean, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = workerLines.find(match);
    if (found) return found;
    const left = deadline - Date.now();
    if (left <= 0) {
      assert.fail(`no such log line from the worker within ${timeoutMs} ms; it printed:\n${workerText.slice(-20).join("\n")}`);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.min(left, 250));
      wake.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** A request to the worker; `to` picks another copy of it by its route. */
/** A request to the worker; the response is typed by the route `path` matches (the edge serves the control plane's own sign-up routes). */
async function edge<M extends ApiMethod, P extends string>(method: M, path: P, init: { body?: unknown; cookie?: string; to?: string } = {}) {
  const headers: Record<string, string> = { accept: "application/json", "cf-connecting-ip": clientIp };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  if (init.cookie) headers.cookie = init.cookie;
  const request = {
    method,
    headers,
    body: init.body === undefined ? undefined : typeof init.body === "string" ? init.body : JSON.stringify(init.body),
  };
  return (await mf.dispatchFetch(new URL(path, init.to ?? PUBLIC_URL).toString(), request)) as unknown as ApiResponse<M, P>;
}

const account = {
  email: `edge.${run}@example.org`,
  username: `edge_${run}`,
  password: "Edge-Runtime-42",
  firstName: "Ada",
  lastName: "Lovelace",
};

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), "kws-edge-"));
  const [built] = await Promise.all([
    buildEdgeWorker(join(workDir, "worker.js")),
    (async () => {
      admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await admin.unsafe(`create database "${dbName}"`);
      const url = new URL(adminUrl);
      url.pathname = `/${dbName}`;
      databaseUrl = url.toString();
      // The edge does not migrate; the Node side (here: the test) does it first.
      const handle = connectPostgres(databaseUrl, { max: 1 });
      try {
        await migrateDatabase(handle);
      } finally {
        await handle.close();
      }
    })(),
    (async () => {
      bridge = await startUpstashBridge({ redisUrl, token, keyPrefix });
    })(),
  ]);

  await writeFile(join(workDir, "capped.js"), CAPPED_ENTRY);
  const compat = { modules: true, scriptPath: built.outfile, modulesRoot: workDir, compatibilityDate: "2025-01-01", compatibilityFlags: ["nodejs_compat"] };
  // The sign-up API's settings, as `wrangler secret put` would give them.
  const configured = { NODE_ENV: "test", PUBLIC_URL, DATABASE_URL: databaseUrl, UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: token };
  mf = new Miniflare({
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      capture(stdout, "stdout");
      capture(stderr, "stderr");
    },
    workers: [
      {
        name: "kws-signup",
        ...compat,
        bindings: { ...configured, LOG_LEVEL: "info" },
      },
      // The same script without its secrets: it must say what is missing.
      {
        name: "unconfigured",
        ...compat,
        routes: ["unconfigured.test/*"],
        bindings: { PUBLIC_URL, UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: token },
      },
      // The same script under production's PBKDF2 limit.
      {
        name: "capped",
        modules: [
          { type: "ESModule" as const, path: join(workDir, "capped.js") },
          { type: "ESModule" as const, path: built.outfile },
        ],
        modulesRoot: workDir,
        compatibilityDate: compat.compatibilityDate,
        compatibilityFlags: compat.compatibilityFlags,
        routes: ["capped.test/*"],
        bindings: configured,
      },
    ],
  });
  await mf.ready;
});

after(async () => {
  await node?.services.close().catch(() => {});
  await mf?.dispose().catch(() => {});
  await bridge?.close().catch(() => {});
  if (admin) {
    await admin.unsafe(`drop database if exists "${dbName}" with (force)`).catch(() => {});
    await admin.end();
  }
  const redis = new Redis(redisUrl, { protocol: 2 });
  try {
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe("the sign-up API in workerd", { timeout: 60_000 }, () => {
  let edgeCookie = "";

  test("health: the worker reaches PostgreSQL and Redis", async () => {
    const res = await replyOf(await edge("GET", "/readyz"));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, "ready");
  });

  test("register → mail line → verify → login → me → logout → me", async () => {
    const reg = await replyOf(await edge("POST", "/api/v1/auth/register", { body: account }));
    assert.equal(reg.status, 201, JSON.stringify(reg.body));
    const registered = reg.body.user;
    assert.equal(registered.email, account.email);
    assert.equal(registered.verified, false);

    // Not verified yet: no sign-in.
    const early = await edge("POST", "/api/v1/auth/login", { body: { username: account.username, password: account.password } });
    assert.equal(early.status, 403);

    const mail = await workerLine((r) => r.msg === "mail" && r.to === account.email);
    assert.equal(mail.level, "info");
    assert.equal(mail.service, "kws-edge");
    const link = String(mail.text).match(/https?:\/\/\S+\/kws_verify\?token=[A-Za-z0-9_%-]+/)?.[0];
    assert.ok(link, `no verification link in ${JSON.stringify(mail.text)}`);
    assert.ok(link.startsWith(`${PUBLIC_URL}/`), link);

    // The link opens a page that asks; opening it verifies nothing.
    const page = await edge("GET", link);
    assert.equal(page.status, 200, await page.clone().text());
    assert.match(await page.text(), /<form method="post" action="\/kws_verify">/);
    assert.equal((await edge("POST", "/api/v1/auth/login", { body: { username: account.username, password: account.password } })).status, 403);

    const token = new URL(link).searchParams.get("token");
    const verify = await edge("POST", "/api/v1/auth/verify", { body: { token } });
    assert.equal(verify.status, 200, await verify.clone().text());
    const again = await edge("POST", "/api/v1/auth/verify", { body: { token } });
    assert.equal(again.status, 410, "a verification link works once");

    const login = await edge("POST", "/api/v1/auth/login", { body: { username: account.username, password: account.password } });
    assert.equal(login.status, 200, await login.clone().text());
    assert.equal((await login.json()).user.id, registered.id);
    const setCookie = login.headers.get("set-cookie") ?? "";
    assert.match(setCookie, /^kws_session=[^;]+;.*HttpOnly/i);
    edgeCookie = setCookie.split(";")[0]!;

    const me = await replyOf(await edge("GET", "/api/v1/me", { cookie: edgeCookie }));
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.equal(me.body.user.id, registered.id);
    assert.equal(me.body.user.email, account.email);
    assert.equal(me.body.user.username, account.username);
    assert.equal(me.body.user.verified, true);

    const logout = await edge("POST", "/api/v1/auth/logout", { cookie: edgeCookie });
    assert.equal(logout.status, 204);
    const after = await edge("GET", "/api/v1/me", { cookie: edgeCookie });
    assert.equal(after.status, 401);
    assert.equal((await after.json()).error.code, "unauthorized");
  });

  test("no postgres connection outlives its request", async () => {
    // release() closes each request's client in waitUntil; workerd would also drop the socket
    // when the request ends, so this guards against pile-up rather than proving release ran.
    const deadline = Date.now() + 2000;
    let open = -1;
    while (Date.now() < deadline) {
      const [row] = await admin<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = ${dbName}`;
      open = row!.n;
      if (open === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(open, 0, "connections of finished edge requests are still open");
  });

  test("the account made at the edge signs in on the Node control plane, and sessions cross over", async () => {
    const config = parseConfig({
      NODE_ENV: "test",
      PUBLIC_URL,
      DATABASE_URL: databaseUrl,
      UPSTASH_REDIS_REST_URL: bridge.url,
      UPSTASH_REDIS_REST_TOKEN: token,
    });
    const lines: string[] = [];
    const logger = createLogger({ service: "kws-node" }, { write: (l) => void lines.push(l) });
    const services = await createNodeServices(config, logger, {
      database: connectPostgres(databaseUrl, { max: 2 }),
      kv: new UpstashKV({ url: bridge.url, token }),
    });
    const app = createControlPlane(async () => ({ services }));
    node = { services, app };
    const bindings = { incoming: { socket: { remoteAddress: clientIp } } };

    const login = await app.request(
      "/api/v1/auth/login",
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: account.email, password: account.password }),
      },
      bindings,
    );
    const loggedIn = await replyOf<"POST", "/api/v1/auth/login">(login);
    assert.equal(loggedIn.status, 200, JSON.stringify(loggedIn.body));
    assert.equal(loggedIn.body.user.username, account.username);
    const nodeCookie = login.headers.get("set-cookie")!.split(";")[0]!;

    // A session made by Node is good at the edge: same Redis, same keys.
    const me = await edge("GET", "/api/v1/me", { cookie: nodeCookie });
    assert.equal(me.status, 200);
    assert.equal((await me.json()).user.email, account.email);

    // And the edge's logout ends it for Node too.
    assert.equal((await edge("POST", "/api/v1/auth/logout", { cookie: nodeCookie })).status, 204);
    const nodeMe = await app.request("/api/v1/me", { headers: { cookie: nodeCookie } }, bindings);
    assert.equal(nodeMe.status, 401);
  });

  test("malformed JSON at the edge: 400 with the JSON error envelope", async () => {
    const res = await edge("POST", "/api/v1/auth/register", { body: "{not json" });
    assert.equal(res.status, 400);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/);
    const body = await res.json();
    assert.equal(body.error.code, "invalid");
    assert.match(body.error.message, /JSON/i);
    assert.ok(body.error.requestId);
  });

  test("a field that breaks a rule: 400 naming the field", async () => {
    const res = await edge("POST", "/api/v1/auth/register", { body: { ...account, email: "not-an-address", username: `x_${run}` } });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.ok(body.error.issues?.some((i) => i.path === "email"), JSON.stringify(body));
  });

  // Cloudflare's production runtime refuses PBKDF2 above 100 000 iterations per call; password
  // hashing chains calls of at most that many, so sign-up works under that rule too.
  test("sign-up under Cloudflare's production PBKDF2 limit", async () => {
    const res = await edge("POST", "/api/v1/auth/register", { to: CAPPED_URL, body: { ...account, email: `capped.${run}@example.org`, username: `capped_${run}` } });
    assert.equal(res.status, 201, await res.text());
  });

  test("without DATABASE_URL the edge answers 503 naming it", async () => {
    const res = await edge("POST", "/api/v1/auth/login", { to: UNCONFIGURED_URL, body: { username: "a", password: "b" } });
    assert.equal(res.status, 503);
    const body = await res.json();
    assert.equal(body.error.code, "not_configured");
    assert.match(body.error.message, /DATABASE_URL/);
    assert.deepEqual(body.error.issues?.map((i) => i.path), ["DATABASE_URL"]);
  });
});

/**
 * The device authorization behind `kws login` (RFC 8628's shape), through the control plane's
 * routes and the /kws_device page with real PostgreSQL and Redis: bad input is a 4xx naming the
 * field, the poll answers pending / slow_down / denied / expired as the RFC names them, the token
 * comes once and works, and the page asks for sign-in and a CSRF-checked button.
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, test } from "node:test";
import fc from "fast-check";
import { hashToken } from "../../shared/crypto/tokens";
import { bodyAt } from "../support/api";
import { Browser } from "../support/form-browser";
import { signedInUser, startHarness, type Harness } from "../support/harness";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

const startLogin = async (body: unknown = { client_name: "kws CLI on test" }) => bodyAt(await h.api("POST", "/api/v1/device/code", { body }), 200);
const poll = (deviceCode: string) => h.api("POST", "/api/v1/device/token", { body: { device_code: deviceCode } });
const errorCode = (reply: { body: unknown }) => (reply.body as { error?: { code: string } }).error?.code;
// The poll's interval less the second of slack the server allows.
const POLL_GAP_MS = 4_100;

test("bad input to the device endpoints is a 4xx naming the field, never a 5xx", async () => {
  const cases: [string, unknown][] = [
    ["/api/v1/device/code", { client_name: 42 }],
    ["/api/v1/device/code", { client_name: "" }],
    ["/api/v1/device/code", { client_name: "x".repeat(65) }],
    ["/api/v1/device/code", { client_name: "<script>" }],
    ["/api/v1/device/code", "not json"],
    ["/api/v1/device/token", {}],
    ["/api/v1/device/token", { device_code: 7 }],
    ["/api/v1/device/token", { device_code: "x".repeat(129) }],
    ["/api/v1/device/token", { device_code: "kwsd_not-one-we-issued" }],
    ["/api/v1/device/token", []],
  ];
  for (const [path, body] of cases) {
    const res = await h.api("POST", path, { body });
    assert.ok(res.status >= 400 && res.status < 500, `${path} ${JSON.stringify(body)}: ${res.status}`);
    const error = (res.body as { error: { code: string; message: string } }).error;
    if (typeof body === "object" && !Array.isArray(body)) assert.match(error.message, /client_name|device_code/, `${JSON.stringify(body)} names the field: ${error.message}`);
  }
});

test("300 generated bodies per device endpoint: never a 5xx, the error envelope on every 4xx", async () => {
  const body = fc.oneof(
    fc.jsonValue(),
    fc.record({ client_name: fc.oneof(fc.string(), fc.string({ unit: "grapheme" }), fc.jsonValue()) }, { requiredKeys: [] }),
    fc.record({ device_code: fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom("kwsd_", "kwsd_' or 1=1 --", "kwsd_$(id)"), fc.jsonValue()) }),
    fc.string().map((text) => ({ raw: text })),
  );
  for (const path of ["/api/v1/device/code", "/api/v1/device/token"]) {
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const raw = typeof b === "object" && b !== null && "raw" in b ? (b as { raw: string }).raw : JSON.stringify(b);
        const res = await h.call("POST", path, { body: raw ?? "null" });
        assert.ok(res.status < 500, `${path} ${raw}: ${res.status}`);
        if (res.status >= 400) assert.ok((JSON.parse(await res.text()) as { error?: { code?: string } }).error?.code, "the error envelope");
        else await res.body?.cancel();
      }),
      { numRuns: 300 },
    );
  }
});

test("a code: short and typable, stored only hashed; poll says pending, then slow_down when too soon", async () => {
  const code = await startLogin();
  assert.match(code.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  assert.equal(code.verification_uri, "http://kws.test/kws_device");
  assert.equal(code.verification_uri_complete, `http://kws.test/kws_device?code=${code.user_code}`);
  assert.equal(code.interval, 5);
  assert.equal(code.expires_in, 600);
  assert.ok(await h.services.kv.get(`device-login:${await hashToken(code.device_code)}`), "kept under its hash");
  assert.equal(await h.services.kv.get(`device-login:${code.device_code}`), null, "never under the code itself");

  const first = await poll(code.device_code);
  assert.equal(first.status, 400);
  assert.equal(errorCode(first), "authorization_pending");
  const tooSoon = await poll(code.device_code);
  assert.equal(tooSoon.status, 400);
  assert.equal(errorCode(tooSoon), "slow_down");
});

test("approved on the page: the CLI gets a working token once; the code is then used up", async () => {
  const { cookie, account } = await signedInUser(h);
  const code = await startLogin({ client_name: "kws CLI on ada-laptop" });
  assert.equal(errorCode(await poll(code.device_code)), "authorization_pending");

  const signedOut = await new Browser(h).get(`/kws_device?code=${code.user_code}`);
  assert.equal(signedOut.status, 303);
  assert.equal(signedOut.location, `/kws_signin?next=${encodeURIComponent(`/kws_device?code=${code.user_code}`)}`, "sign in, then back to the code");

  const browser = new Browser(h, cookie);
  // Typed the way people type: lower case, no dash.
  const typed = code.user_code.toLowerCase().replace("-", "");
  const page = await browser.get(`/kws_device?code=${typed}`);
  assert.equal(page.status, 200);
  assert.match(page.html, new RegExp(`data-testid="device-code">${code.user_code}<`), "the page shows the code to compare");
  assert.match(page.html, /kws CLI on ada-laptop/);
  assert.match(page.html, new RegExp(account.username));

  const forged = await h.call("POST", "/kws_device", {
    body: new URLSearchParams({ code: code.user_code, decision: "approve" }).toString(),
    headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
  });
  assert.equal(forged.status, 403, "no CSRF field: refused");
  assert.equal(errorCode(await poll(code.device_code)), "slow_down", "a refused form decided nothing (and polling early is still too soon)");

  const approved = await browser.post(`/kws_device?code=${typed}`, "/kws_device", { code: typed, decision: "approve" });
  assert.equal(approved.status, 200);
  assert.match(approved.html, /data-testid="device-decided">Approved/);

  await sleep(POLL_GAP_MS);
  const token = bodyAt(await poll(code.device_code), 200);
  assert.equal(token.token_type, "bearer");
  assert.equal(token.token.name, "kws CLI on ada-laptop");
  const me = bodyAt(await h.api("GET", "/api/v1/me", { headers: { authorization: `Bearer ${token.access_token}` } }), 200);
  assert.equal(me.user.username, account.username, "the token acts as the person who approved");

  await sleep(POLL_GAP_MS);
  const again = await poll(code.device_code);
  assert.equal(again.status, 400);
  assert.equal(errorCode(again), "expired_token", "the token is answered once");
  const reused = await browser.get(`/kws_device?code=${code.user_code}`);
  assert.equal(reused.status, 404, "the page no longer knows the code");
  assert.match(reused.html, /no sign-in is waiting for this code/);
});

test("denied on the page: the poll answers access_denied, and the code cannot be approved after", async () => {
  const { cookie } = await signedInUser(h);
  const code = await startLogin();
  const browser = new Browser(h, cookie);
  const denied = await browser.post(`/kws_device?code=${code.user_code}`, "/kws_device", { code: code.user_code, decision: "deny" });
  assert.match(denied.html, /data-testid="device-decided">Denied/);
  const late = await browser.post("/kws_device", "/kws_device", { code: code.user_code, decision: "approve" });
  assert.equal(late.status, 410, "decided once");
  const res = await poll(code.device_code);
  assert.equal(res.status, 400);
  assert.equal(errorCode(res), "access_denied");
});

test("the page: a wrong or malformed code is explained; a bad decision is a 400", async () => {
  const { cookie } = await signedInUser(h);
  const browser = new Browser(h, cookie);
  const blank = await browser.get("/kws_device");
  assert.equal(blank.status, 200);
  assert.match(blank.html, /name="code"/, "a field to type the code into");
  const unknown = await browser.get("/kws_device?code=BBBB-BBBB");
  assert.equal(unknown.status, 404);
  assert.match(unknown.html, /check it against your terminal/);
  const code = await startLogin();
  const malformed = await browser.post("/kws_device", "/kws_device", { code: "12", decision: "approve" });
  assert.equal(malformed.status, 400);
  assert.match(malformed.html, /must be the 8 letters/);
  const badDecision = await browser.post("/kws_device", "/kws_device", { code: code.user_code, decision: "maybe" });
  assert.equal(badDecision.status, 400);
  assert.equal(errorCode(await poll(code.device_code)), "authorization_pending", "nothing was decided");
});

test("codes are rate-limited per client address", async () => {
  const ip = "198.51.100.7";
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) statuses.push((await h.api("POST", "/api/v1/device/code", { body: {}, ip })).status);
  assert.deepEqual(statuses.slice(0, 10), Array(10).fill(200));
  assert.equal(statuses[11], 429);
});

test("DELETE /tokens/current revokes the token it is sent with; a session is told to log out instead", async () => {
  const { cookie } = await signedInUser(h);
  const { secret } = bodyAt(await h.api("POST", "/api/v1/tokens", { body: { name: "cli" }, headers: { cookie } }), 201);
  const auth = { authorization: `Bearer ${secret}` };
  assert.equal((await h.api("DELETE", "/api/v1/tokens/current", { headers: { cookie } })).status, 400);
  assert.equal((await h.api("DELETE", "/api/v1/tokens/current", { headers: auth })).status, 204);
  assert.equal((await h.api("GET", "/api/v1/me", { headers: auth })).status, 401);
  assert.equal(bodyAt(await h.api("GET", "/api/v1/tokens", { headers: { cookie } }), 200).tokens.length, 0);
});

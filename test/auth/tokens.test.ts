import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import { apiTokens } from "../../shared/db/schema";
import { hashToken } from "../../shared/crypto/tokens";
import { bodyAt, type ApiMethod, type ErrorBody, type Reply } from "../support/api";
import { signedInUser, startHarness, type Harness } from "../support/harness";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

function createToken(cookie: string, body: unknown = { name: "laptop cli" }) {
  return h.api("POST", "/api/v1/tokens", { body, headers: { cookie } });
}

/** A token made (201): its row and its secret. */
const madeToken = async (cookie: string, body?: unknown) => bodyAt(await createToken(cookie, body), 201);

const tokenList = async (cookie: string) => bodyAt(await h.api("GET", "/api/v1/tokens", { headers: { cookie } }), 200);

const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

test("a token is shown once, stored hashed, listed without its secret and works as Bearer", async () => {
  const { cookie, account } = await signedInUser(h);
  const { status, body } = await createToken(cookie, { name: "ci", expiresInDays: 30 });
  assert.equal(status, 201);
  assert.match(body.secret, /^kws_[A-Za-z0-9_-]{43}$/);
  const [row] = await h.services.db.select().from(apiTokens).where(eq(apiTokens.id, body.token.id));
  assert.equal(row!.tokenHash, await hashToken(body.secret));
  assert.ok(!JSON.stringify(row).includes(body.secret), "secret not stored");

  const list = await tokenList(cookie);
  assert.equal(list.tokens.length, 1);
  assert.equal(list.tokens[0]?.name, "ci");
  assert.ok(!JSON.stringify(list).includes(body.secret));

  const me = await h.call("GET", "/api/v1/me", { headers: bearer(body.secret) });
  assert.equal(me.status, 200);
  assert.equal((await me.json()).user.username, account.username);
  const used = await tokenList(cookie);
  assert.ok(used.tokens[0]?.lastUsedAt, "last use recorded");
});

test("a revoked token gets 401", async () => {
  const { cookie } = await signedInUser(h);
  const body = await madeToken(cookie);
  assert.equal((await h.call("GET", "/api/v1/me", { headers: bearer(body.secret) })).status, 200);
  const del = await h.call("DELETE", `/api/v1/tokens/${body.token.id}`, { headers: { cookie } });
  assert.equal(del.status, 204);
  assert.equal((await h.call("GET", "/api/v1/me", { headers: bearer(body.secret) })).status, 401);
  const again = await h.call("DELETE", `/api/v1/tokens/${body.token.id}`, { headers: { cookie } });
  assert.equal(again.status, 404);
});

test("an expired token gets 401", async () => {
  const { cookie } = await signedInUser(h);
  const body = await madeToken(cookie, { name: "short", expiresInDays: 1 });
  assert.equal((await h.call("GET", "/api/v1/me", { headers: bearer(body.secret) })).status, 200);
  await h.services.db
    .update(apiTokens)
    .set({ expiresAt: new Date(Date.now() - 1000) })
    .where(eq(apiTokens.id, body.token.id));
  assert.equal((await h.call("GET", "/api/v1/me", { headers: bearer(body.secret) })).status, 401);
});

test("another user's token can be neither listed nor revoked", async () => {
  const alice = await signedInUser(h);
  const bob = await signedInUser(h);
  const body = await madeToken(alice.cookie);
  const del = await h.call("DELETE", `/api/v1/tokens/${body.token.id}`, { headers: { cookie: bob.cookie } });
  assert.equal(del.status, 404);
  const bobs = await tokenList(bob.cookie);
  assert.equal(bobs.tokens.length, 0);
  assert.equal((await h.call("GET", "/api/v1/me", { headers: bearer(body.secret) })).status, 200, "still valid");
});

test("bad input: 400 naming the field; unauthenticated: 401; a malformed id: 400", async () => {
  const { cookie } = await signedInUser(h);
  for (const [body, path] of [
    [{ name: "" }, "name"],
    [{ name: "x".repeat(65) }, "name"],
    [{ name: "ok", expiresInDays: 0 }, "expiresInDays"],
    [{ name: "ok", expiresInDays: "7" }, "expiresInDays"],
  ] as const) {
    const { status, body: err } = await createToken(cookie, body);
    assert.equal(status, 400, JSON.stringify(body));
    assert.ok(err.error.issues?.some((i) => i.path === path));
  }
  assert.equal((await h.call("POST", "/api/v1/tokens", { body: { name: "x" } })).status, 401);
  assert.equal((await h.call("GET", "/api/v1/tokens", { headers: bearer("kws_forged") })).status, 401);
  assert.equal((await h.call("DELETE", "/api/v1/tokens/not-a-uuid", { headers: { cookie } })).status, 400);
});

test("a request authenticated by a token cannot create tokens: 403, nothing made", async () => {
  const { cookie, userId } = await signedInUser(h);
  const body = await madeToken(cookie, { name: "full one" });
  const res = await h.call("POST", "/api/v1/tokens", { body: { name: "successor" }, headers: bearer(body.secret) });
  assert.equal(res.status, 403);
  const err = await res.json();
  assert.equal(err.error.code, "forbidden");
  assert.match(err.error.message, /API token cannot create tokens/);
  const rows = await h.services.db.select().from(apiTokens).where(eq(apiTokens.userId, userId));
  assert.equal(rows.length, 1);
});

test("tokens are full by default; a read token may GET and HEAD only, with a clear 403 otherwise", async () => {
  const { cookie } = await signedInUser(h);
  const full = await madeToken(cookie, { name: "default" });
  assert.equal(full.token.scope, "full");
  const read = await createToken(cookie, { name: "dashboard", scope: "read" });
  assert.equal(read.status, 201);
  assert.equal(read.body.token.scope, "read");
  const list = await tokenList(cookie);
  assert.deepEqual(list.tokens.map((t) => [t.name, t.scope]).sort(), [["dashboard", "read"], ["default", "full"]]);

  assert.equal((await h.call("GET", "/api/v1/me", { headers: bearer(read.body.secret) })).status, 200);
  assert.equal((await h.call("HEAD", "/api/v1/tokens", { headers: bearer(read.body.secret) })).status, 200);
  for (const [method, path] of [
    ["POST", "/api/v1/instance/stop"],
    ["DELETE", `/api/v1/tokens/${full.token.id}`],
    ["POST", "/api/v1/devices"],
    ["POST", "/api/v1/auth/logout"],
  ] as const) {
    // Routes of every kind: the body asserted is the one error body they all answer.
    const res: Reply<ApiMethod, string> = await h.api<ApiMethod, string>(method, path, { headers: bearer(read.body.secret), body: method === "POST" ? {} : undefined });
    assert.equal(res.status, 403, `${method} ${path}`);
    assert.match((res.body as ErrorBody).error.message, /read-only: it may only GET and HEAD/);
  }
  assert.equal((await h.call("GET", "/api/v1/me", { headers: bearer(full.secret) })).status, 200, "the full token was not revoked");
  const revoke = await h.call("DELETE", `/api/v1/tokens/${read.body.token.id}`, { headers: bearer(full.secret) });
  assert.equal(revoke.status, 204, "a full token may change things");
});

test("an unknown scope is a 400 naming the field", async () => {
  const { cookie } = await signedInUser(h);
  const { status, body } = await createToken(cookie, { name: "x", scope: "admin" });
  assert.equal(status, 400);
  assert.ok(body.error.issues?.some((i) => i.path === "scope"));
});

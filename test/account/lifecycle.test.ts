/**
 * The account lifecycle over the API: password reset, password change, e-mail change, signing out
 * everywhere and deleting an account without resources (test/account/delete-e2e.test.ts deletes
 * one with an instance and managed PostgreSQL).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { issueLinkToken } from "../../functions/auth/link-tokens";
import { hashToken } from "../../shared/crypto/tokens";
import { pgUsers } from "../../shared/db/schema";
import { TEST_SECRET_KEY } from "../pg/support";
import { PASSWORD_RESET, RESET_TTL_MS, type ResetLink } from "../../functions/account/service";
import { bodyAt, replyOf } from "../support/api";
import { newAccount, signedInUser, startHarness, type Harness } from "../support/harness";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

const NEW_PASSWORD = "Brand-New-Pass-7";

async function login(username: string, password: string) {
  return h.call("POST", "/api/v1/auth/login", { body: { username, password } });
}

/** One more session of the account: its cookie header. */
async function anotherSession(username: string, password: string) {
  const res = await login(username, password);
  assert.equal(res.status, 200);
  return res.headers.get("set-cookie")!.split(";")[0]!;
}

const me = async (headers: Record<string, string>) => (await h.call("GET", "/api/v1/me", { headers })).status;

async function apiToken(cookie: string) {
  const res = await h.call("POST", "/api/v1/tokens", { body: { name: "lifecycle" }, headers: { cookie } });
  assert.equal(res.status, 201);
  return `Bearer ${(await res.json()).secret}`;
}

const tokenIn = (text: string, path: string) => text.match(new RegExp(`https?://\\S+${path}\\?token=([A-Za-z0-9_%-]+)`))?.[1];

/** The token of the newest mail to `to` with a link to `path` (other than `except`), waiting for it. */
async function linkToken(to: string, path: string, except?: string) {
  const mail = await h.mailbox.find(to, (m) => {
    const token = tokenIn(m.text, path);
    return token !== undefined && token !== except;
  });
  return decodeURIComponent(tokenIn(mail.text, path)!);
}

const mailsTo = (to: string) => h.mailbox.mails.filter((m) => m.to === to);

describe("password reset", () => {
  test("an unknown address gets the same 202 and no mail; a known one gets a single-use 1 h link", async () => {
    const { account } = await signedInUser(h);
    const unknown = `nobody.${Date.now()}@example.org`;
    const a = await h.call("POST", "/api/v1/auth/password-reset", { body: { email: unknown } });
    const b = await h.call("POST", "/api/v1/auth/password-reset", { body: { email: account.email } });
    assert.equal(a.status, 202);
    assert.equal(b.status, 202);
    assert.deepEqual(await a.json(), await b.json(), "the answer does not tell whether the address is known");
    const token = await linkToken(account.email, "/kws_reset");
    assert.ok(token.length >= 22, "at least 128 bits");
    assert.match((await h.mailbox.latest(account.email)).text, /works once and expires in 1 hour/);
    // The known address's mail has arrived; the unknown one's would have been sent before it.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(mailsTo(unknown).length, 0, "nothing is sent to an unknown address");
    assert.equal(await h.services.kv.get(`reset:${token}`), null, "the token is not stored as is");
    assert.notEqual(await h.services.kv.get(`reset:${await hashToken(token)}`), null, "it is stored hashed");
  });

  test("the link sets a password under the strength rule, ends every session, and works once", async () => {
    const { account, cookie } = await signedInUser(h);
    const other = await anotherSession(account.username, account.password);
    const token = await apiToken(cookie);
    await h.call("POST", "/api/v1/auth/password-reset", { body: { email: account.email } });
    const resetToken = await linkToken(account.email, "/kws_reset");

    const weak = await h.call("POST", "/api/v1/auth/password-reset/confirm", { body: { token: resetToken, password: "weakpass" } });
    assert.equal(weak.status, 400);
    assert.equal((await weak.json()).error.issues?.[0]?.path, "password");

    const ok = await h.call("POST", "/api/v1/auth/password-reset/confirm", { body: { token: resetToken, password: NEW_PASSWORD } });
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal(await me({ cookie }), 401, "the first session ended");
    assert.equal(await me({ cookie: other }), 401, "the second session ended");
    assert.equal(await me({ authorization: token }), 200, "API tokens are not sessions");
    assert.equal((await login(account.username, account.password)).status, 401, "the old password is refused");
    assert.equal((await login(account.username, NEW_PASSWORD)).status, 200);

    const again = await h.call("POST", "/api/v1/auth/password-reset/confirm", { body: { token: resetToken, password: "Another-Pass-8" } });
    assert.equal(again.status, 410, "single use");
    assert.equal((await again.json()).error.code, "gone");
    assert.equal((await login(account.username, NEW_PASSWORD)).status, 200, "the second use changed nothing");
    const unknown = await h.call("POST", "/api/v1/auth/password-reset/confirm", { body: { token: "A".repeat(43), password: NEW_PASSWORD } });
    assert.equal(unknown.status, 404);
  });

  test("a link expires after 1 hour", async () => {
    const { account, userId } = await signedInUser(h);
    const link = { userId, generation: 0 } satisfies ResetLink;
    const expired = await issueLinkToken(h.services.kv, PASSWORD_RESET, link, Date.now() - RESET_TTL_MS - 1000);
    const res = await h.call("POST", "/api/v1/auth/password-reset/confirm", { body: { token: expired, password: NEW_PASSWORD } });
    assert.equal(res.status, 410);
    assert.match((await res.json()).error.message, /expired/);
    assert.equal((await login(account.username, account.password)).status, 200, "the password is unchanged");
    const lastMinute = await issueLinkToken(h.services.kv, PASSWORD_RESET, link, Date.now() - RESET_TTL_MS + 60_000);
    const inTime = await h.call("POST", "/api/v1/auth/password-reset/confirm", { body: { token: lastMinute, password: NEW_PASSWORD } });
    assert.equal(inTime.status, 200, "59 minutes old still works");
  });

  test("of two links, the second stops working once the first was used", async () => {
    const { account } = await signedInUser(h);
    await h.call("POST", "/api/v1/auth/password-reset", { body: { email: account.email } });
    const first = await linkToken(account.email, "/kws_reset");
    await h.call("POST", "/api/v1/auth/password-reset", { body: { email: account.email } });
    const second = await linkToken(account.email, "/kws_reset", first);
    assert.notEqual(first, second);
    assert.equal((await h.call("POST", "/api/v1/auth/password-reset/confirm", { body: { token: second, password: NEW_PASSWORD } })).status, 200);
    const stale = await h.call("POST", "/api/v1/auth/password-reset/confirm", { body: { token: first, password: "Another-Pass-8" } });
    assert.equal(stale.status, 410);
    assert.equal((await login(account.username, NEW_PASSWORD)).status, 200);
  });

  test("requests are rate limited per address and per client", async () => {
    const email = `limited.${Date.now()}@example.org`;
    const perAddress: number[] = [];
    for (let i = 0; i < 4; i++) perAddress.push((await h.call("POST", "/api/v1/auth/password-reset", { body: { email }, ip: `198.51.100.${60 + i}` })).status);
    assert.deepEqual(perAddress, [202, 202, 202, 429]);
    const perClient: number[] = [];
    for (let i = 0; i < 4; i++) {
      perClient.push((await h.call("POST", "/api/v1/auth/password-reset", { body: { email: `c${i}.${Date.now()}@example.org` }, ip: "198.51.100.70" })).status);
    }
    assert.deepEqual(perClient, [202, 202, 202, 429]);
  });
});

describe("change password", () => {
  test("needs the current password and a strong new one", async () => {
    const { account, cookie } = await signedInUser(h);
    const wrong = await h.call("POST", "/api/v1/account/password", { body: { currentPassword: "Wrong-Pass-1", newPassword: NEW_PASSWORD }, headers: { cookie } });
    assert.equal(wrong.status, 403);
    assert.equal((await wrong.json()).error.issues?.[0]?.path, "currentPassword");
    const weak = await h.call("POST", "/api/v1/account/password", { body: { currentPassword: account.password, newPassword: "short" }, headers: { cookie } });
    assert.equal(weak.status, 400);
    assert.equal((await weak.json()).error.issues?.[0]?.path, "newPassword");
    assert.equal((await login(account.username, account.password)).status, 200, "nothing changed");
    assert.equal(await me({ cookie }), 200, "the session goes on");
    assert.equal((await h.call("POST", "/api/v1/account/password", { body: { currentPassword: account.password, newPassword: NEW_PASSWORD } })).status, 401);
  });

  test("ends the other sessions, keeps this one (on a new cookie), and refuses the old password", async () => {
    const { account, cookie } = await signedInUser(h);
    const other = await anotherSession(account.username, account.password);
    const res = await h.call("POST", "/api/v1/account/password", { body: { currentPassword: account.password, newPassword: NEW_PASSWORD }, headers: { cookie } });
    assert.equal(res.status, 200, await res.clone().text());
    const renewed = res.headers.get("set-cookie")!.split(";")[0]!;
    assert.match(renewed, /^kws_session=/);
    assert.equal(await me({ cookie: renewed }), 200, "this browser stays signed in");
    assert.equal(await me({ cookie: other }), 401, "the other session ended");
    assert.equal(await me({ cookie }), 401, "the old cookie of this browser is replaced");
    assert.equal((await login(account.username, account.password)).status, 401, "the old password is refused");
    assert.equal((await login(account.username, NEW_PASSWORD)).status, 200);
  });
});

describe("sign out everywhere", () => {
  test("ends every session, this one included; API tokens stay", async () => {
    const { account, cookie } = await signedInUser(h);
    const other = await anotherSession(account.username, account.password);
    const token = await apiToken(cookie);
    const res = await h.call("POST", "/api/v1/auth/logout-all", { headers: { cookie } });
    assert.equal(res.status, 204);
    assert.match(res.headers.get("set-cookie") ?? "", /kws_session=;/, "the browser's cookie is cleared");
    assert.equal(await me({ cookie }), 401);
    assert.equal(await me({ cookie: other }), 401);
    assert.equal(await me({ authorization: token }), 200);
    const fresh = await anotherSession(account.username, account.password);
    assert.equal(await me({ cookie: fresh }), 200, "signing in again works");
    assert.equal((await h.call("POST", "/api/v1/auth/logout-all")).status, 401);
  });
});

describe("change e-mail", () => {
  test("needs the password; a taken or unchanged address is refused, naming the field", async () => {
    const { account, cookie } = await signedInUser(h);
    const { account: someone } = await signedInUser(h);
    const target = `new.${Date.now()}@example.org`;
    const wrong = await h.call("POST", "/api/v1/account/email", { body: { email: target, password: "Wrong-Pass-1" }, headers: { cookie } });
    assert.equal(wrong.status, 403);
    assert.equal((await wrong.json()).error.issues?.[0]?.path, "password");
    const taken = await h.call("POST", "/api/v1/account/email", { body: { email: someone.email.toUpperCase(), password: account.password }, headers: { cookie } });
    assert.equal(taken.status, 409);
    assert.equal((await taken.json()).error.issues?.[0]?.path, "email");
    const same = await h.call("POST", "/api/v1/account/email", { body: { email: account.email, password: account.password }, headers: { cookie } });
    assert.equal(same.status, 400);
    assert.equal(mailsTo(target).length, 0, "no link was sent");
  });

  test("applies only once the link to the new address is confirmed by POST; the old address is told", async () => {
    const { account, cookie } = await signedInUser(h);
    const target = `moved.${Date.now()}@example.org`;
    const res = await h.call("POST", "/api/v1/account/email", { body: { email: target, password: account.password }, headers: { cookie } });
    assert.equal(res.status, 202, await res.clone().text());
    const token = await linkToken(target, "/kws_email_confirm");
    assert.equal(bodyAt(await h.api("GET", "/api/v1/me", { headers: { cookie } }), 200).user.email, account.email, "not applied yet");

    const page = await h.call("GET", `/kws_email_confirm?token=${token}`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<form method="post" action="\/kws_email_confirm">/, "the link's page is a button, not the change");
    assert.equal(bodyAt(await h.api("GET", "/api/v1/me", { headers: { cookie } }), 200).user.email, account.email, "opening the link changes nothing");

    const confirm = await h.call("POST", "/api/v1/account/email/confirm", { body: { token } });
    assert.equal(confirm.status, 200, await confirm.clone().text());
    assert.equal(bodyAt(await h.api("GET", "/api/v1/me", { headers: { cookie } }), 200).user.email, target);
    const notice = await h.mailbox.latest(account.email);
    assert.match(notice.subject, /changed/);
    assert.ok(notice.text.includes(target), "the old address learns the new one");
    assert.equal((await login(target, account.password)).status, 200, "the new address signs in");
    assert.equal((await login(account.email, account.password)).status, 401, "the old one no longer does");
    assert.equal((await h.call("POST", "/api/v1/account/email/confirm", { body: { token } })).status, 410, "single use");
  });

  test("an address taken between the request and the confirmation is refused at confirmation", async () => {
    const { account, cookie } = await signedInUser(h);
    const target = `race.${Date.now()}@example.org`;
    assert.equal((await h.call("POST", "/api/v1/account/email", { body: { email: target, password: account.password }, headers: { cookie } })).status, 202);
    const token = await linkToken(target, "/kws_email_confirm");
    assert.equal((await h.call("POST", "/api/v1/auth/register", { body: newAccount({ email: target }) })).status, 201);
    const confirm = await h.call("POST", "/api/v1/account/email/confirm", { body: { token } });
    assert.equal(confirm.status, 409);
    assert.equal((await confirm.json()).error.issues?.[0]?.path, "email");
    assert.equal(bodyAt(await h.api("GET", "/api/v1/me", { headers: { cookie } }), 200).user.email, account.email);
  });
});

describe("delete account", () => {
  test("a wrong password is refused and nothing is touched", async () => {
    const { account, cookie } = await signedInUser(h);
    const token = await apiToken(cookie);
    const res = await h.call("DELETE", "/api/v1/account", { body: { password: "Wrong-Pass-1" }, headers: { cookie } });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).error.issues?.[0]?.path, "password");
    assert.equal(await me({ cookie }), 200);
    assert.equal(await me({ authorization: token }), 200);
    assert.equal((await login(account.username, account.password)).status, 200);
  });

  test("removes the account, its sessions and its tokens; the address can sign up again", async () => {
    const { account, cookie } = await signedInUser(h);
    const other = await anotherSession(account.username, account.password);
    const token = await apiToken(cookie);
    const res = await h.call("DELETE", "/api/v1/account", { body: { password: account.password }, headers: { cookie } });
    assert.equal(res.status, 204, await res.clone().text());
    assert.equal(await me({ cookie }), 401);
    assert.equal(await me({ cookie: other }), 401);
    assert.equal(await me({ authorization: token }), 401);
    assert.equal((await login(account.username, account.password)).status, 401);
    assert.equal((await h.call("POST", "/api/v1/auth/register", { body: newAccount({ email: account.email, username: account.username }) })).status, 201);
  });
});

test("a deletion that stops part-way keeps the account and a session to try again from", async () => {
  // A managed-PostgreSQL cluster that does not answer: the pg step cannot finish.
  const broken = await startHarness({ env: { PG_SERVICE_URL: "postgres://kws_admin:secret@127.0.0.1:1/postgres", KWS_SECRET_KEY: TEST_SECRET_KEY } });
  try {
    const { account, cookie, userId } = await signedInUser(broken);
    const other = await (await broken.call("POST", "/api/v1/auth/login", { body: { username: account.username, password: account.password } })).headers.get("set-cookie")!.split(";")[0]!;
    const created = await broken.call("POST", "/api/v1/tokens", { body: { name: "before" }, headers: { cookie } });
    const token = `Bearer ${bodyAt(await replyOf(created), 201).secret}`;
    await broken.services.db.insert(pgUsers).values({ userId, name: "left_behind", passwordEncrypted: "sealed" });

    const res = await broken.call("DELETE", "/api/v1/account", { body: { password: account.password }, headers: { cookie } });
    assert.equal(res.status, 503, await res.clone().text());
    assert.equal((await res.json()).error.code, "unavailable");
    const renewed = res.headers.get("set-cookie")?.split(";")[0];
    assert.ok(renewed?.startsWith("kws_session=") && renewed !== cookie, "a fresh session for the next try");
    const status = async (headers: Record<string, string>) => (await broken.call("GET", "/api/v1/me", { headers })).status;
    assert.equal(await status({ cookie: renewed! }), 200, "the account is still there, and this browser in it");
    assert.equal(await status({ cookie: other }), 401, "other sessions ended before anything was removed");
    assert.equal(await status({ authorization: token }), 401, "API tokens were revoked before anything was removed");
    const again = await broken.call("DELETE", "/api/v1/account", { body: { password: account.password }, headers: { cookie: renewed! } });
    assert.equal(again.status, 503, "trying again meets the same step, not a half-deleted account");
  } finally {
    await broken.close();
  }
});

test("the OpenAPI document lists the new routes", async () => {
  // The document is no route of its own: only its paths are read.
    const doc = (await (await h.call("GET", "/api/v1/openapi.json")).json()) as { paths: Record<string, unknown> };
  for (const path of ["/api/v1/auth/password-reset", "/api/v1/auth/password-reset/confirm", "/api/v1/auth/logout-all", "/api/v1/account/password", "/api/v1/account/email", "/api/v1/account/email/confirm", "/api/v1/account"]) {
    assert.ok(doc.paths[path], `${path} documented`);
  }
});

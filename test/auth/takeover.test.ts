import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eq, sql } from "drizzle-orm";
import { UNVERIFIED_LIFETIME_MS, UnverifiedAccountSweeper } from "../../functions/auth/unverified-accounts";
import { isAdmin } from "../../functions/auth/users";
import { users } from "../../shared/db/schema";
import { newAccount, startHarness, type Harness } from "../support/harness";

/** Pre-registration takeover: someone registers another person's address before they do. */

const adminEmail = `admin.${Date.now().toString(36)}@example.org`;
let h: Harness;
before(async () => {
  h = await startHarness({ config: { admins: [adminEmail] } });
});
after(() => h.close());

const register = (account: Record<string, string>) => h.call("POST", "/api/v1/auth/register", { body: account });
const verify = (token: string) => h.call("POST", "/api/v1/auth/verify", { body: { token } });
const login = (account: { username: string; password: string }) =>
  h.call("POST", "/api/v1/auth/login", { body: { username: account.username, password: account.password } });

/** The squatter's link, mailed at registration and again on resend, before the owner signs up. */
async function squat(email: string) {
  const squatter = newAccount({ email, password: "Squatter-Pass-1" });
  assert.equal((await register(squatter)).status, 201);
  const first = await h.mailbox.verificationToken(email);
  assert.equal((await h.call("POST", "/api/v1/auth/resend", { body: { email } })).status, 202);
  const deadline = Date.now() + 5000;
  while ((await h.mailbox.verificationToken(email)) === first && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return { squatter, tokens: [first, await h.mailbox.verificationToken(email)] };
}

/** The csrf cookie and the form's fields of a page. */
async function formOf(res: Response) {
  const html = await res.text();
  const cookie = res.headers.get("set-cookie")?.split(";")[0] ?? "";
  const field = (name: string) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))?.[1] ?? "";
  return { html, cookie, csrf: field("_csrf"), token: field("token") };
}

describe("an unverified registration does not hold the address", () => {
  test("the owner signing up replaces the squatter's account; the squatter's links answer 410", async () => {
    const email = `owner.${Date.now().toString(36)}@example.org`;
    const { squatter, tokens } = await squat(email);
    const owner = newAccount({ email });
    const res = await register(owner);
    assert.equal(res.status, 201, await res.clone().text());
    for (const token of tokens) {
      const used = await verify(token);
      assert.equal(used.status, 410, "the replaced account's link is gone");
      assert.equal((await used.json()).error.code, "gone");
    }
    assert.equal((await verify(await h.mailbox.verificationToken(email))).status, 200);
    assert.equal((await login(owner)).status, 200);
    assert.equal((await login(squatter)).status, 401, "the squatter's account is gone");
    const [held] = await h.services.db.select({ username: users.username }).from(users).where(eq(users.email, email));
    assert.equal(held?.username, owner.username);
  });

  test("a verified account still holds its address: 409", async () => {
    const email = `kept.${Date.now().toString(36)}@example.org`;
    const first = newAccount({ email });
    assert.equal((await register(first)).status, 201);
    assert.equal((await verify(await h.mailbox.verificationToken(email))).status, 200);
    const again = await register(newAccount({ email }));
    assert.equal(again.status, 409);
    assert.deepEqual((await again.json()).error.issues?.map((i) => i.path), ["email"]);
  });

  test("a replacement that fails on the username leaves the unverified account in place", async () => {
    const email = `atomic.${Date.now().toString(36)}@example.org`;
    const { tokens } = await squat(email);
    const other = newAccount();
    assert.equal((await register(other)).status, 201);
    const clash = await register(newAccount({ email, username: other.username }));
    assert.equal(clash.status, 409);
    assert.deepEqual((await clash.json()).error.issues?.map((i) => i.path), ["username"]);
    assert.equal((await verify(tokens[1]!)).status, 200, "nothing was deleted");
  });
});

describe("opening the link verifies nothing", () => {
  test("the page names the account; only its button (with the CSRF token) verifies", async () => {
    const account = newAccount();
    assert.equal((await register(account)).status, 201);
    const link = new URL(await h.mailbox.verificationLink(account.email));
    assert.equal(link.pathname, "/kws_verify");
    const page = await h.call("GET", link.pathname + link.search, { headers: { accept: "text/html" } });
    assert.equal(page.status, 200);
    const form = await formOf(page);
    assert.match(form.html, new RegExp(account.username), "the page says which account it verifies");
    assert.equal((await h.call("GET", link.pathname + link.search)).status, 200, "opened again: still usable");
    assert.equal((await login(account)).status, 403, "opening the page verified nothing");

    const post = (body: string, cookie: string) =>
      h.call("POST", "/kws_verify", { headers: { "content-type": "application/x-www-form-urlencoded", cookie }, body });
    const forged = await post(`token=${form.token}`, "");
    assert.equal(forged.status, 403, "no CSRF token: refused");
    assert.equal((await login(account)).status, 403);

    const confirmed = await post(`_csrf=${form.csrf}&token=${form.token}`, form.cookie);
    assert.equal(confirmed.status, 303);
    assert.equal(confirmed.headers.get("location"), "/kws_signin?notice=verified");
    assert.equal((await login(account)).status, 200);
    const used = await h.call("GET", link.pathname + link.search);
    assert.equal(used.status, 303);
    assert.equal(used.headers.get("location"), "/kws_signin?notice=verify-gone");
  });
});

describe("admin rights need a verified address", () => {
  test("an address in KWS_ADMINS is no admin while unverified", () => {
    assert.equal(isAdmin({ email: adminEmail, verifiedAt: null }, [adminEmail]), false);
    assert.equal(isAdmin({ email: adminEmail, verifiedAt: new Date() }, [adminEmail]), true);
  });

  test("a squatter on the admin's address gets nothing; the admin signs up over it and is admin", async () => {
    const { squatter, tokens } = await squat(adminEmail);
    const admin = newAccount({ email: adminEmail });
    assert.equal((await register(admin)).status, 201);
    assert.equal((await verify(tokens[0]!)).status, 410);
    assert.equal((await verify(await h.mailbox.verificationToken(adminEmail))).status, 200);
    assert.equal((await login(squatter)).status, 401);
    const signedIn = await login(admin);
    assert.equal(signedIn.status, 200);
    assert.equal((await signedIn.json()).user.isAdmin, true);
  });
});

describe("unverified accounts expire after 7 days", () => {
  const age = (id: string, ms: number) =>
    h.services.db.update(users).set({ createdAt: new Date(Date.now() - ms) }).where(eq(users.id, id));
  const exists = async (id: string) => (await h.services.db.select({ id: users.id }).from(users).where(eq(users.id, id))).length === 1;
  const registeredId = async (account = newAccount()) => {
    const res = await register(account);
    assert.equal(res.status, 201);
    return (await res.json()).user.id as string;
  };

  test("the sweep deletes unverified accounts past 7 days and keeps younger and verified ones", async () => {
    const stale = await registeredId();
    const young = await registeredId();
    const verifiedAccount = newAccount();
    const verifiedOld = await registeredId(verifiedAccount);
    assert.equal((await verify(await h.mailbox.verificationToken(verifiedAccount.email))).status, 200);
    await age(stale, UNVERIFIED_LIFETIME_MS + 60_000);
    await age(young, UNVERIFIED_LIFETIME_MS - 60_000);
    await age(verifiedOld, UNVERIFIED_LIFETIME_MS * 4);
    const sweeper = new UnverifiedAccountSweeper({ db: h.services.db, logger: h.services.logger });
    await sweeper.sweep();
    assert.equal(await exists(stale), false, "stale unverified account deleted");
    assert.equal(await exists(young), true, "younger than 7 days: kept");
    assert.equal(await exists(verifiedOld), true, "verified: kept");
    assert.ok(h.mailbox.logLines.some((l) => l.includes('"unverified accounts deleted"')), "the sweep logs what it deleted");
  });

  test("a sign-up may take the username of an unverified account past 7 days, not of a younger one", async () => {
    const holder = newAccount();
    const stale = await registeredId(holder);
    await age(stale, UNVERIFIED_LIFETIME_MS - 60_000);
    const early = await register(newAccount({ username: holder.username }));
    assert.equal(early.status, 409, "younger than 7 days: the name is still held");
    await age(stale, UNVERIFIED_LIFETIME_MS + 60_000);
    const taker = newAccount({ username: holder.username });
    assert.equal((await register(taker)).status, 201);
    assert.equal(await exists(stale), false);
    const holders = await h.services.db.select({ email: users.email }).from(users).where(sql`lower(${users.username}) = ${holder.username.toLowerCase()}`);
    assert.deepEqual(holders, [{ email: taker.email }]);
  });
});

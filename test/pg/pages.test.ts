/**
 * The dashboard pages /kws_services/postgres/users and /kws_services/postgres/db: list, create
 * (the connection string shown once), delete, errors in words; and what the API and the pages say
 * when PG_SERVICE_URL is not set.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type postgres from "postgres";
import { Browser } from "../support/form-browser";
import type { ErrorBody } from "../support/api";
import { signedInUser, startHarness, type Harness } from "../support/harness";
import type { PgTestCluster } from "../support/pg-cluster";
import { clusterState, Connections, startPgService, TEST_SECRET_KEY, type PgService } from "./support";

const USERS = "/kws_services/postgres/users";
const DBS = "/kws_services/postgres/db";

const decode = (s: string) => s.replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">");
const connectionUri = (html: string) => decode(html.match(/data-testid="pg-connection-uri"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*data-testid="pg-connection-uri"/)?.slice(1).find(Boolean) ?? "");

describe("with a service cluster", () => {
  let cluster: PgTestCluster;
  let h: Harness;
  let admin: postgres.Sql;
  let conns: Connections;

  let service: PgService | undefined;
  before(async () => {
    service = await startPgService();
    ({ cluster, h, admin, conns } = service);
  });
  after(() => service?.close());

  test("signed-out visitors go to sign-in", async () => {
    for (const path of [USERS, DBS]) {
      const res = await h.call("GET", path);
      assert.equal(res.status, 303);
      assert.match(res.headers.get("location") ?? "", /^\/kws_signin/);
    }
  });

  test("create a user and a database, connect with the string shown once, then delete both", async () => {
    const { cookie } = await signedInUser(h);
    const b = new Browser(h, cookie);
    const empty = await b.get(USERS);
    assert.equal(empty.status, 200);
    assert.match(empty.html, /You have no database users yet/);
    assert.match(empty.html, new RegExp(`Connect to <code data-testid="pg-host">127\\.0\\.0\\.1</code> port <code>${cluster.port}</code>`));

    const created = await b.post(USERS, USERS, { name: "page_user", password: "" });
    assert.equal(created.status, 200, created.html);
    const uri = connectionUri(created.html);
    assert.match(uri, new RegExp(`^postgresql://page_user:[A-Za-z0-9]{32}@127\\.0\\.0\\.1:${cluster.port}/$`));
    assert.match(created.html, /Copy<\/button>/);
    assert.match(created.html, /data-testid="pg-user-page_user"/);
    const again = await b.get(USERS);
    assert.ok(!again.html.includes(uri), "the connection string is shown once");

    const noDbPage = await b.get(DBS);
    assert.match(noDbPage.html, /<option value="page_user"/);
    const db = await b.post(DBS, DBS, { name: "page_db", owner: "page_user" });
    assert.equal(db.status, 200, db.html);
    const dbUri = connectionUri(db.html);
    assert.match(dbUri, /\/page_db$/);
    const url = new URL(dbUri);
    const sql = await conns.as(url.username, decodeURIComponent(url.password), "page_db");
    await sql`create table hello (x int)`;
    await sql.end();

    const reveal = await b.post(USERS, `${USERS}/password`, { name: "page_user" });
    assert.equal(reveal.status, 200);
    assert.equal(new URL(connectionUri(reveal.html)).password, url.password, "Show password gives the same password");

    const delDb = await b.post(DBS, `${DBS}/delete`, { name: "page_db" });
    assert.equal(delDb.status, 303);
    assert.equal(delDb.location, `${DBS}?notice=db-deleted`);
    assert.match((await b.get(delDb.location!)).html, /The database is deleted/);
    const delUser = await b.post(USERS, `${USERS}/delete`, { name: "page_user" });
    assert.equal(delUser.status, 303);
    const state = await clusterState(admin);
    assert.ok(!state.roles.includes("page_user") && !state.databases.includes("page_db"));
    assert.match((await b.get(USERS)).html, /You have no database users yet/);
  });

  test("bad names, taken names and limits are explained on the page", async () => {
    const alice = new Browser(h, (await signedInUser(h)).cookie);
    const bob = new Browser(h, (await signedInUser(h)).cookie);
    const bad = await alice.post(USERS, USERS, { name: "Bad'Name", password: "" });
    assert.equal(bad.status, 400);
    assert.match(bad.html, /data-field-error="name">must be 3-63 characters/);
    assert.match(bad.html, /value="Bad&#39;Name"|value="Bad'Name"/, "the typed value is kept, escaped");
    const weak = await alice.post(USERS, USERS, { name: "alice_pg", password: "short" });
    assert.equal(weak.status, 400);
    assert.match(weak.html, /data-field-error="password">must be 12-256 printable ASCII/);

    assert.equal((await alice.post(USERS, USERS, { name: "alice_pg", password: "" })).status, 200);
    const taken = await bob.post(USERS, USERS, { name: "alice_pg", password: "" });
    assert.equal(taken.status, 409);
    assert.match(taken.html, /data-field-error="name">is taken; choose another name/);

    for (let i = 2; i <= 5; i++) assert.equal((await alice.post(USERS, USERS, { name: `alice_pg${i}`, password: "" })).status, 200);
    const full = await alice.get(USERS);
    assert.match(full.html, /You have 5 database users, the most allowed/);
    const sixth = await alice.post(USERS, USERS, { name: "alice_pg6", password: "" });
    assert.equal(sixth.status, 409);
    assert.match(sixth.html, /data-testid="pg-error">quota pgUsers: you have 5 database users and your limit is 5; remove one first/);

    assert.match((await bob.get(DBS)).html, /create a database user<\/a> first/);
    assert.equal((await bob.post(USERS, USERS, { name: "bob_pg", password: "" })).status, 200);
    const ownerTaken = await bob.post(DBS, DBS, { name: "bob_db", owner: "alice_pg" });
    assert.equal(ownerTaken.status, 400);
    assert.match(ownerTaken.html, /data-field-error="owner">must be one of your database users/);
    const delOther = await bob.post(USERS, `${USERS}/delete`, { name: "alice_pg" });
    assert.equal(delOther.status, 404);
    assert.match(delOther.html, /no database user of yours with that name/);
    assert.ok((await clusterState(admin)).roles.includes("alice_pg"));
  });

  test("a form without the CSRF field is refused", async () => {
    const { cookie } = await signedInUser(h);
    const res = await h.call("POST", USERS, {
      body: "name=csrf_less",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
    });
    assert.equal(res.status, 403);
    assert.ok(!(await clusterState(admin)).roles.includes("csrf_less"));
  });
});

describe("without PG_SERVICE_URL", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ env: { KWS_SECRET_KEY: TEST_SECRET_KEY } });
  });
  after(() => h?.close());

  test("the routes answer 503 not_configured naming the variable, and the pages say so", async () => {
    const { cookie } = await signedInUser(h);
    for (const [method, path, body] of [
      ["GET", "/api/v1/pg/users"],
      ["POST", "/api/v1/pg/users", { name: "some_user" }],
      ["GET", "/api/v1/pg/users/some_user/password"],
      ["DELETE", "/api/v1/pg/users/some_user"],
      ["GET", "/api/v1/pg/databases"],
      ["POST", "/api/v1/pg/databases", { name: "some_db", owner: "some_user" }],
      ["DELETE", "/api/v1/pg/databases/some_db"],
    ] as const) {
      const res = await h.call(method, path, { body, headers: { cookie } });
      assert.equal(res.status, 503, `${method} ${path}`);
      // Routes of every kind: the body asserted is the one error body they all answer.
      const json = (await res.json()) as ErrorBody;
      assert.equal(json.error.code, "not_configured");
      assert.match(json.error.message, /PG_SERVICE_URL/);
    }
    for (const path of [USERS, DBS]) {
      const page = await h.call("GET", path, { headers: { cookie } });
      assert.equal(page.status, 503);
      const html = await page.text();
      assert.match(html, /data-testid="pg-not-configured">managed PostgreSQL is not configured on this KWS: an administrator must set PG_SERVICE_URL/);
    }
  });
});

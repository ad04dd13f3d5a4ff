/**
 * Managed PostgreSQL through the API, against a real PostgreSQL of the test's own
 * (scram-sha-256, log_statement=all): what a created user can and cannot do, hostile input,
 * limits and ownership, deletion with live sessions.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import type postgres from "postgres";
import { pgDatabases, pgUsers } from "../../shared/db/schema";
import { bodyAt, type ApiMethod } from "../support/api";
import { signedInUser, type Harness } from "../support/harness";
import type { PgTestCluster } from "../support/pg-cluster";
import { clusterState, Connections, psqlLogin, sqlError, startPgService, type PgService } from "./support";

let cluster: PgTestCluster;
let h: Harness;
let admin: postgres.Sql;
let conns: Connections;
/** Every password the tests used, to look for in the cluster's statement log at the end. */
const passwords = new Set<string>();

const ADMIN_EMAIL = "pg-admin@example.org";

let service: PgService | undefined;
before(async () => {
  service = await startPgService({ PG_SERVICE_PUBLIC_HOST: "postgres.kws.services", PG_SERVICE_PUBLIC_PORT: "5432", KWS_ADMINS: ADMIN_EMAIL });
  ({ cluster, h, admin, conns } = service);
});

after(() => service?.close());

function call<M extends ApiMethod, P extends string>(cookie: string | undefined, method: M, path: P, body?: unknown) {
  return h.api(method, path, { body, headers: cookie ? { cookie } : {} });
}

async function createUser(cookie: string, name: string, password?: string) {
  const r = await call(cookie, "POST", "/api/v1/pg/users", password === undefined ? { name } : { name, password });
  if (r.status === 201) passwords.add(r.body.password);
  return r;
}

const createDatabase = (cookie: string, name: string, owner: string) => call(cookie, "POST", "/api/v1/pg/databases", { name, owner });

async function rowsNamed(name: string) {
  const u = await h.services.db.select().from(pgUsers).where(eq(pgUsers.name, name));
  const d = await h.services.db.select().from(pgDatabases).where(eq(pgDatabases.name, name));
  return u.length + d.length;
}

describe("a created user", () => {
  test("connects with its password to its own database and creates a table there (1)", async () => {
    const alice = await signedInUser(h);
    const created = await createUser(alice.cookie, "alice_app");
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { password } = created.body;
    assert.match(password, /^[A-Za-z0-9]{32}$/, "generated: 32 random characters");
    assert.equal(created.body.host, "postgres.kws.services");
    assert.equal(created.body.port, 5432);
    assert.equal(created.body.connectionUri, `postgresql://alice_app:${password}@postgres.kws.services:5432/`);
    assert.deepEqual(created.body.user.databases, []);

    const db = await createDatabase(alice.cookie, "alice_db", "alice_app");
    assert.equal(db.status, 201, JSON.stringify(db.body));
    assert.equal(db.body.database.owner, "alice_app");
    assert.equal(db.body.connectionUri, `postgresql://alice_app:${password}@postgres.kws.services:5432/alice_db`);

    const sql = await conns.as("alice_app", password, "alice_db");
    await sql`create table notes (id serial primary key, body text)`;
    await sql`insert into notes (body) values ('hello')`;
    assert.deepEqual([...(await sql`select body from notes`)], [{ body: "hello" }]);
    assert.equal(await conns.loginResult("alice_app", password + "x", "alice_db"), "28P01", "a wrong password is refused");

    const again = await call(alice.cookie, "GET", "/api/v1/pg/users/alice_app/password");
    assert.equal(again.status, 200);
    assert.equal(again.body.password, password);

    const [row] = await h.services.db.select().from(pgUsers).where(eq(pgUsers.name, "alice_app"));
    assert.match(row!.passwordEncrypted, /^v1\./);
    assert.ok(!row!.passwordEncrypted.includes(password), "stored encrypted");

    const list = await call(alice.cookie, "GET", "/api/v1/pg/users");
    assert.equal(list.status, 200);
    assert.equal(list.body.host, "postgres.kws.services");
    assert.deepEqual(
      list.body.users.map((u) => [u.name, u.databases]),
      [["alice_app", ["alice_db"]]],
    );
    const dbs = await call(alice.cookie, "GET", "/api/v1/pg/databases");
    assert.equal(dbs.status, 200);
    assert.deepEqual(
      dbs.body.databases.map((d) => [d.name, d.owner]),
      [["alice_db", "alice_app"]],
    );

    const [attrs] = await admin`
      select rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolreplication, rolbypassrls, rolcanlogin, rolconnlimit
      from pg_roles where rolname = 'alice_app'`;
    assert.deepEqual({ ...attrs }, {
      rolsuper: false,
      rolcreatedb: false,
      rolcreaterole: false,
      rolinherit: false,
      rolreplication: false,
      rolbypassrls: false,
      rolcanlogin: true,
      rolconnlimit: 20,
    });
    const [acl] = await admin`select datacl::text[] as acl, pg_get_userbyid(datdba) as owner from pg_database where datname = 'alice_db'`;
    assert.equal(acl!.owner, "alice_app");
    assert.ok(!acl!.acl.some((a: string) => a.startsWith("=")), `no PUBLIC entry in ${acl!.acl}`);
    assert.ok(acl!.acl.some((a: string) => a.startsWith("alice_app=") && a.includes("c")), "the owner may connect");
  });

  test("cannot reach another person's database nor raise its privileges; nor can the other reach its (2)", async () => {
    const alice = await signedInUser(h);
    const bob = await signedInUser(h);
    const a = bodyAt(await createUser(alice.cookie, "alice_two"), 201).password;
    const b = bodyAt(await createUser(bob.cookie, "bob_app"), 201).password;
    assert.equal((await createDatabase(alice.cookie, "alice_two_db", "alice_two")).status, 201);
    assert.equal((await createDatabase(bob.cookie, "bob_db", "bob_app")).status, 201);

    assert.equal(await conns.loginResult("alice_two", a, "bob_db"), "42501", "alice's user cannot connect to bob's database");
    assert.equal(await conns.loginResult("bob_app", b, "alice_two_db"), "42501", "bob's user cannot connect to alice's database");
    assert.equal(await conns.loginResult("bob_app", b, "bob_db"), "ok");

    const sql = await conns.as("alice_two", a, "alice_two_db");
    const attempts: Record<string, () => Promise<unknown>> = {
      "CREATE DATABASE": () => sql`create database alice_sneaky`,
      "CREATE ROLE": () => sql`create role alice_sneaky`,
      "ALTER ROLE SUPERUSER": () => sql`alter role alice_two superuser`,
      "ALTER ROLE CREATEDB": () => sql`alter role alice_two createdb`,
      "ALTER ROLE CONNECTION LIMIT": () => sql`alter role alice_two connection limit -1`,
      "read pg_authid": () => sql`select rolpassword from pg_authid`,
      "comment on own role (the KWS marker)": () => sql.unsafe(`comment on role alice_two is 'kws:owner=00000000-0000-0000-0000-000000000000'`),
      "give the database away": () => sql`alter database alice_two_db owner to bob_app`,
      "rename the database": () => sql`alter database alice_two_db rename to alice_renamed`,
      "rename the role": () => sql`alter role alice_two rename to alice_renamed`,
      "become bob": () => sql`set role bob_app`,
      "read the server's files": () => sql`select pg_read_file('postgresql.conf')`,
      "COPY FROM PROGRAM": () => sql`copy (select 1) to program 'true'`,
    };
    for (const [what, attempt] of Object.entries(attempts)) {
      const code = await sqlError(attempt);
      assert.notEqual(code, "ok", what);
      assert.match(code, /^(42501|0A000)$/, `${what}: refused for lack of privilege, not by accident (${code})`);
    }
    const [me] = await admin`select rolsuper, rolcreatedb, rolcreaterole, rolconnlimit from pg_roles where rolname = 'alice_two'`;
    assert.deepEqual({ ...me }, { rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolconnlimit: 20 });
    const state = await clusterState(admin);
    assert.ok(!state.databases.includes("alice_sneaky") && !state.roles.includes("alice_sneaky"));
  });
});

describe("the cluster's maintenance databases", () => {
  test("a managed user cannot connect to postgres nor template1 (where every role and its owner is listed); its own database works", async () => {
    const carol = await signedInUser(h);
    const password = bodyAt(await createUser(carol.cookie, "carol_app"), 201).password;
    assert.equal((await createDatabase(carol.cookie, "carol_db", "carol_app")).status, 201);
    assert.equal(await conns.loginResult("carol_app", password, "postgres"), "42501", "postgres");
    assert.equal(await conns.loginResult("carol_app", password, "template1"), "42501", "template1");
    assert.equal(await conns.loginResult("carol_app", password, "carol_db"), "ok");
    const sql = await conns.as("carol_app", password, "carol_db");
    assert.deepEqual([...(await sql`select current_database() as db`)], [{ db: "carol_db" }]);
  });

  test("CONNECT is revoked from PUBLIC at the start, before any role is made: a login role made outside KWS is kept out too", async () => {
    for (const db of ["postgres", "template1"]) {
      const [row] = await admin`select datacl::text[] as acl from pg_database where datname = ${db}`;
      assert.ok(row!.acl && !row!.acl.some((a: string) => /^=[^/]*c/.test(a)), `${db}: PUBLIC may still connect (${row!.acl})`);
    }
    await admin.unsafe("create role outside_login login password 'Outside-Login-1'");
    assert.equal(await conns.loginResult("outside_login", "Outside-Login-1", "postgres"), "42501");
    assert.equal(await conns.loginResult("outside_login", "Outside-Login-1", "template1"), "42501");
    await admin.unsafe("drop role outside_login");
  });
});

describe("hostile input", () => {
  const badNames = [
    "a'b_quote",
    'a"b_dquote',
    "x; drop role canary_role",
    "back\\slash",
    "dollar$$quote",
    "ünïcode_name",
    "x".repeat(1000),
    "Upper_case",
    "with space",
    "ab",
    "1starts_digit",
    "",
    "pg_catalog_ish",
    "postgres",
    "template1",
    "kws_admin",
  ];

  test("names with quotes, semicolons, backslashes, $$, unicode, 1,000 characters or reserved are refused and execute nothing (3)", async () => {
    await admin`create role canary_role nologin`;
    const before = await clusterState(admin);
    const u = await signedInUser(h);
    assert.equal((await createUser(u.cookie, "hostile_owner")).status, 201);
    const after1 = await clusterState(admin);
    for (const name of badNames) {
      const user = await createUser(u.cookie, name, "a-fine-password-1");
      assert.equal(user.status, 400, `user ${JSON.stringify(name.slice(0, 40))}: ${JSON.stringify(user.body)}`);
      assert.ok(user.body.error.issues?.some((i) => i.path === "name"), JSON.stringify(user.body));
      const db = await createDatabase(u.cookie, name, "hostile_owner");
      assert.equal(db.status, 400, `database ${JSON.stringify(name.slice(0, 40))}`);
      const asOwner = await createDatabase(u.cookie, "hostile_db", name);
      assert.equal(asOwner.status, 400, `owner ${JSON.stringify(name.slice(0, 40))}`);
      if (name !== "") {
        for (const path of [`/api/v1/pg/users/${encodeURIComponent(name)}`, `/api/v1/pg/databases/${encodeURIComponent(name)}`]) {
          const del = await call(u.cookie, "DELETE", path);
          assert.ok(del.status === 400 || del.status === 404, `${path}: ${del.status}`);
        }
        const pw = await call(u.cookie, "GET", `/api/v1/pg/users/${encodeURIComponent(name)}/password`);
        assert.ok(pw.status === 400 || pw.status === 404);
      }
    }
    assert.deepEqual(await clusterState(admin), after1, "nothing changed on the cluster");
    assert.ok(before.roles.includes("canary_role") && after1.roles.includes("canary_role"));
  });

  test("passwords with quotes, semicolons, backslashes, $$ and every printable ASCII character work exactly; others are refused (3)", async () => {
    const u = await signedInUser(h);
    const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join("");
    const good = [
      printable,
      "it's'; drop role canary_role; --",
      "back\\slash\\\\ and \\' done",
      "$$ dollar $$; select 1; $$",
      " leading and trailing spaces ",
    ];
    const names = ["pw_one", "pw_two", "pw_three", "pw_four", "pw_five"];
    for (const [i, password] of good.entries()) {
      passwords.add(password);
      const r = await createUser(u.cookie, names[i]!, password);
      assert.equal(r.status, 201, `${JSON.stringify(password)}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.password, password, "answered exactly");
      const again = await call(u.cookie, "GET", `/api/v1/pg/users/${names[i]}/password`);
      assert.equal(bodyAt(again, 200).password, password, "stored exactly");
      assert.equal(await conns.passwordAccepted(names[i]!, password), true, `postgres.js login with ${JSON.stringify(password)}`);
      assert.equal(await conns.passwordAccepted(names[i]!, password.slice(0, -1)), false);
    }
    assert.equal((await createDatabase(u.cookie, "pw_one_db", "pw_one")).status, 201);
    const viaPsql = await psqlLogin(cluster, "pw_one", printable, "pw_one_db");
    assert.deepEqual(viaPsql, { code: 0, out: "pw_one" }, "libpq (psql) logs in with every printable ASCII character too");

    const bad = ["pässwörd-ünïcode-123", "emoji-🔑-password", "a-1000-character-password-".padEnd(1000, "z"), "short", "tab\there-long-enough", "newline\nlong-enough", "nul\u0000long-enough"];
    for (const password of bad) {
      passwords.add(password);
      const r = await call(u.cookie, "POST", "/api/v1/pg/users", { name: "pw_bad", password });
      assert.equal(r.status, 400, JSON.stringify(password.slice(0, 30)));
      assert.ok(r.body.error.issues?.some((i) => i.path === "password"));
    }
    for (const body of [{ name: "pw_bad", password: 123456789012 }, { name: ["pw_bad"] }, { name: null }, "not json", { name: "pw_bad", extra: "x".repeat(70_000) }]) {
      const r = await call(u.cookie, "POST", "/api/v1/pg/users", body);
      assert.ok(r.status === 400 || r.status === 413, `${JSON.stringify(body).slice(0, 40)}: ${r.status}`);
    }
    assert.equal(await rowsNamed("pw_bad"), 0);
    assert.ok((await clusterState(admin)).roles.includes("canary_role"), "no input dropped the canary");
  });

  after(() => {
    // Runs after every test of this block: the log holds every statement the cluster received.
    const log = cluster.log();
    assert.match(log, /CREATE ROLE "?\w+"? WITH LOGIN NOSUPERUSER/, "statements are logged (log_statement=all)");
    assert.match(log, /SCRAM-SHA-256\$4096:/, "the verifier is what reaches the cluster");
    for (const password of passwords) {
      assert.ok(!log.includes(password), `plaintext password ${JSON.stringify(password.slice(0, 12))}… is not in the cluster's log`);
      const escaped = password.replace(/'/g, "''");
      assert.ok(!log.includes(escaped), "nor as a quoted literal");
      if (password.length >= 12) {
        const leak = h.mailbox.logLines.find((l) => l.includes(JSON.stringify(password).slice(1, -1)));
        assert.equal(leak, undefined, `nor in KWS's own log (${JSON.stringify(password)})`);
      }
    }
  });
});

describe("limits and ownership (4)", () => {
  test("a 6th user and an 11th database get 409 limit and change nothing", async () => {
    const carol = await signedInUser(h);
    for (let i = 1; i <= 5; i++) assert.equal((await createUser(carol.cookie, `carol_${i}`)).status, 201);
    const before = await clusterState(admin);
    const sixth = await createUser(carol.cookie, "carol_6");
    assert.equal(sixth.status, 409);
    assert.equal(sixth.body.error.code, "limit");
    assert.match(sixth.body.error.message, /5 database users/);
    for (let i = 1; i <= 10; i++) assert.equal((await createDatabase(carol.cookie, `carol_db_${i}`, `carol_${(i % 5) + 1}`)).status, 201);
    const eleventh = await createDatabase(carol.cookie, "carol_db_11", "carol_1");
    assert.equal(eleventh.status, 409);
    assert.equal(eleventh.body.error.code, "limit");
    const state = await clusterState(admin);
    assert.ok(!state.roles.includes("carol_6") && !state.databases.includes("carol_db_11"));
    assert.deepEqual(state.roles, before.roles);
    assert.equal(await rowsNamed("carol_6"), 0);
    assert.equal(await rowsNamed("carol_db_11"), 0);
  });

  test("concurrent creates cannot pass the limit", async () => {
    const dave = await signedInUser(h);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => createUser(dave.cookie, `dave_${i}`)));
    assert.deepEqual(results.map((r) => r.status).sort(), [201, 201, 201, 201, 201, 409, 409, 409]);
    const list = bodyAt(await call(dave.cookie, "GET", "/api/v1/pg/users"), 200);
    assert.equal(list.users.length, 5);
    const roles = (await clusterState(admin)).roles.filter((r) => r.startsWith("dave_"));
    assert.deepEqual(roles.sort(), list.users.map((u) => u.name).sort(), "cluster and rows agree");
  });

  test("another person's user as owner, or their user or database in a DELETE, is refused and changes nothing", async () => {
    const erin = await signedInUser(h);
    const frank = await signedInUser(h);
    const pw = bodyAt(await createUser(erin.cookie, "erin_app"), 201).password;
    assert.equal((await createDatabase(erin.cookie, "erin_db", "erin_app")).status, 201);
    assert.equal((await createUser(frank.cookie, "frank_app")).status, 201);
    const before = await clusterState(admin);

    const asOwner = await createDatabase(frank.cookie, "frank_db", "erin_app");
    assert.equal(asOwner.status, 400);
    assert.ok(asOwner.body.error.issues?.some((i) => i.path === "owner"));
    assert.equal((await createDatabase(frank.cookie, "frank_db", "nobody_here")).status, 400);
    assert.equal((await call(frank.cookie, "DELETE", "/api/v1/pg/users/erin_app")).status, 404);
    assert.equal((await call(frank.cookie, "DELETE", "/api/v1/pg/databases/erin_db")).status, 404);
    assert.equal((await call(frank.cookie, "GET", "/api/v1/pg/users/erin_app/password")).status, 404);

    const takenUser = await createUser(frank.cookie, "erin_app");
    assert.equal(takenUser.status, 409);
    assert.equal(takenUser.body.error.code, "conflict");
    assert.ok(takenUser.body.error.issues?.some((i) => i.path === "name"));
    assert.equal((await createDatabase(frank.cookie, "erin_db", "frank_app")).status, 409);
    const mine = await createUser(erin.cookie, "erin_app");
    assert.equal(mine.status, 409, "one's own existing name is taken too");

    // Names taken on the cluster by roles and databases that are not KWS's.
    await admin`create role foreign_role login`;
    await admin`create database foreign_db`;
    assert.equal((await createUser(frank.cookie, "foreign_role")).status, 409);
    assert.equal((await createDatabase(frank.cookie, "foreign_db", "frank_app")).status, 409);
    assert.equal((await call(frank.cookie, "DELETE", "/api/v1/pg/users/foreign_role")).status, 404);
    assert.equal((await call(frank.cookie, "DELETE", "/api/v1/pg/databases/foreign_db")).status, 404);

    const after1 = await clusterState(admin);
    assert.deepEqual(after1.roles.filter((r) => r !== "foreign_role"), before.roles);
    assert.deepEqual(after1.databases.filter((d) => d !== "foreign_db"), before.databases);
    assert.equal(await rowsNamed("frank_db"), 0);
    assert.equal(await rowsNamed("foreign_role"), 0);
    assert.equal(await conns.loginResult("erin_app", pw, "erin_db"), "ok", "erin's user still works");
    assert.equal((await call(undefined, "GET", "/api/v1/pg/users")).status, 401);
    assert.equal((await call(undefined, "POST", "/api/v1/pg/users", { name: "nobody_app" })).status, 401);
  });
});

test("deleting a user with live sessions and two databases leaves no role, no database, no row (5)", async () => {
  const gina = await signedInUser(h);
  const pw = bodyAt(await createUser(gina.cookie, "gina_app"), 201).password;
  assert.equal((await createDatabase(gina.cookie, "gina_one", "gina_app")).status, 201);
  assert.equal((await createDatabase(gina.cookie, "gina_two", "gina_app")).status, 201);
  const one = await conns.as("gina_app", pw, "gina_one");
  const two = await conns.as("gina_app", pw, "gina_two");
  const elsewhere = await conns.as("gina_app", pw, "gina_one");
  await one`create table t (x int)`;
  // One session idle inside a transaction that holds a lock, one running a long query.
  await two.unsafe("begin; create table locked (x int); lock table locked in access exclusive mode");
  const running = elsewhere`select pg_sleep(30)`.then(() => "finished", (err: { code?: string }) => String(err.code));
  await new Promise((r) => setTimeout(r, 200));
  const [{ sessions }] = (await admin`select count(*)::int as sessions from pg_stat_activity where usename = 'gina_app'`) as unknown as [{ sessions: number }];
  assert.equal(sessions, 3);

  const del = await call(gina.cookie, "DELETE", "/api/v1/pg/users/gina_app");
  assert.equal(del.status, 204, JSON.stringify(del.body));

  const state = await clusterState(admin);
  assert.ok(!state.roles.includes("gina_app"), "no role");
  assert.ok(!state.databases.includes("gina_one") && !state.databases.includes("gina_two"), "no database");
  assert.equal(await rowsNamed("gina_app"), 0);
  assert.equal(await rowsNamed("gina_one"), 0);
  assert.equal(await rowsNamed("gina_two"), 0);
  assert.match(await running, /^(57P01|CONNECTION_CLOSED|CONNECTION_ENDED)$/, "the running query was ended");
  const [{ n }] = (await admin`select count(*)::int as n from pg_stat_activity where usename = 'gina_app'`) as unknown as [{ n: number }];
  assert.equal(n, 0, "no session of the role is left");
  assert.equal(await conns.loginResult("gina_app", pw, "postgres"), "28P01", "the role cannot log in");
  assert.equal((await call(gina.cookie, "DELETE", "/api/v1/pg/users/gina_app")).status, 404, "a second delete finds nothing");
  assert.equal(bodyAt(await call(gina.cookie, "GET", "/api/v1/pg/users"), 200).users.length, 0);
});

test("deleting a database ends its sessions; the user stays", async () => {
  const hana = await signedInUser(h);
  const pw = bodyAt(await createUser(hana.cookie, "hana_app"), 201).password;
  assert.equal((await createDatabase(hana.cookie, "hana_db", "hana_app")).status, 201);
  const s = await conns.as("hana_app", pw, "hana_db");
  assert.equal((await call(hana.cookie, "DELETE", "/api/v1/pg/databases/hana_db")).status, 204);
  assert.notEqual(await sqlError(() => s`select 1`), "ok");
  assert.ok(!(await clusterState(admin)).databases.includes("hana_db"));
  assert.equal(await rowsNamed("hana_db"), 0);
  assert.equal(await conns.passwordAccepted("hana_app", pw), true);
  assert.deepEqual(bodyAt(await call(hana.cookie, "GET", "/api/v1/pg/users"), 200).users[0]?.databases, []);
});

test("the drift route is for administrators and lists nothing while both sides agree", async () => {
  const plain = await signedInUser(h);
  assert.equal((await call(plain.cookie, "GET", "/api/v1/pg/drift")).status, 403);
  const boss = await signedInUser(h, { email: ADMIN_EMAIL });
  const drift = await call(boss.cookie, "GET", "/api/v1/pg/drift");
  assert.equal(drift.status, 200);
  assert.deepEqual(drift.body.drift, []);
});

test("the cluster going away answers 503, not 500", async () => {
  const ivy = await signedInUser(h);
  const { PgCluster } = await import("../../functions/pg/cluster");
  const real = h.services.pgCluster;
  h.services.pgCluster = new PgCluster(`postgres://kws_admin:x@127.0.0.1:1/postgres`);
  try {
    const r = await createUser(ivy.cookie, "ivy_app");
    assert.equal(r.status, 503);
    assert.equal(r.body.error.code, "unavailable");
    assert.equal(await rowsNamed("ivy_app"), 0, "no row without the role");
  } finally {
    await h.services.pgCluster.close();
    h.services.pgCluster = real;
  }
});

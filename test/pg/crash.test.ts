/**
 * A KWS process killed (SIGKILL) in the middle of a pg operation: what is left over, what the
 * drift check (`npm run ops -- pg drift` and GET /api/v1/pg/drift) reports, and how the next
 * create or delete of that name repairs it (6).
 *
 * KWS's own database is a database on the test cluster (owned by its admin, so not KWS-managed),
 * shared by the killed child process, this test and the CLI.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import type postgres from "postgres";
import { createControlPlane } from "../../functions/control-plane";
import { createNodeServices, type NodeServices } from "../../functions/node-services";
import type { DriftEntry } from "../../functions/pg/schemas";
import { parseConfig } from "../../shared/config";
import { hashToken, randomToken } from "../../shared/crypto/tokens";
import { apiTokens, pgDatabases, pgUsers, users } from "../../shared/db/schema";
import { createLogger } from "../../shared/logger";
import { bodyAt, replyOf, type ApiMethod } from "../support/api";
import { startPgCluster, type PgTestCluster } from "../support/pg-cluster";
import { adminSql, clusterState, Connections, TEST_SECRET_KEY } from "./support";

const root = new URL("../../", import.meta.url).pathname;

let cluster: PgTestCluster;
let admin: postgres.Sql;
let conns: Connections;
let services: NodeServices;
let app: ReturnType<typeof createControlPlane>;
let env: Record<string, string>;
const people: Record<"pat" | "quinn", { id: string; token: string }> = {} as never;

before(async () => {
  cluster = await startPgCluster();
  admin = adminSql(cluster);
  conns = new Connections(cluster);
  await admin`create database kws_meta`;
  const kwsUrl = new URL(cluster.adminUrl);
  kwsUrl.pathname = "/kws_meta";
  env = {
    NODE_ENV: "test",
    DATABASE_URL: kwsUrl.toString(),
    PG_SERVICE_URL: cluster.adminUrl,
    KWS_SECRET_KEY: TEST_SECRET_KEY,
    KWS_ADMINS: "pat@example.org",
    LOG_LEVEL: "warn",
  };
  services = await createNodeServices(parseConfig(env), createLogger({ service: "kws-test" }, { level: "warn" }));
  app = createControlPlane(async () => ({ services }));
  for (const name of ["pat", "quinn"] as const) {
    const [user] = await services.db
      .insert(users)
      .values({ email: `${name}@example.org`, username: name, passwordHash: "unused", firstName: name, lastName: "Test", verifiedAt: new Date() })
      .returning();
    const token = randomToken("kws_");
    await services.db.insert(apiTokens).values({ userId: user!.id, name: "test", tokenHash: await hashToken(token), prefix: token.slice(0, 10) });
    people[name] = { id: user!.id, token };
  }
});

after(async () => {
  await conns?.closeAll();
  await services?.close();
  await admin?.end({ timeout: 1 });
  await cluster?.stop();
});

async function call<M extends ApiMethod, P extends string>(who: "pat" | "quinn", method: M, path: P, body?: unknown) {
  const res = await app.request(path, {
    method,
    headers: { authorization: `Bearer ${people[who].token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return replyOf<M, P>(res);
}

function run(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...env, ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve({ code, signal, out }));
  });
}

/** The real control plane in a child process, SIGKILLed before or after one cluster step. */
async function killedDuring(who: "pat" | "quinn", method: string, path: string, body: unknown, when: "before" | "after", step: string) {
  const r = await run(["test/pg/crash-child.ts", method, path, body === undefined ? "-" : JSON.stringify(body), when, step], { KWS_TEST_TOKEN: people[who].token });
  assert.equal(r.signal, "SIGKILL", `the child was killed ${when} ${step}; output:\n${r.out}`);
}

async function cliDrift(): Promise<DriftEntry[]> {
  const r = await run(["scripts/ops.ts", "pg", "drift", "--json"]);
  assert.equal(r.code, 0, r.out);
  return (JSON.parse(r.out) as { drift: DriftEntry[] }).drift;
}

async function rows(name: string) {
  const u = await services.db.select().from(pgUsers).where(eq(pgUsers.name, name));
  const d = await services.db.select().from(pgDatabases).where(eq(pgDatabases.name, name));
  return { users: u.length, databases: d.length };
}

test("killed between the row and the cluster step: the row is rolled back, nothing is left, the name is free", async () => {
  await killedDuring("pat", "POST", "/api/v1/pg/users", { name: "pat_a" }, "before", "createRole");
  assert.deepEqual(await rows("pat_a"), { users: 0, databases: 0 });
  assert.ok(!(await clusterState(admin)).roles.includes("pat_a"));
  assert.deepEqual(await cliDrift(), []);
  assert.equal((await call("pat", "POST", "/api/v1/pg/users", { name: "pat_a" })).status, 201);
  assert.deepEqual(await cliDrift(), []);
});

test("killed after creating the role, before the commit: drift lists the role; only its person's next create adopts it", async () => {
  await killedDuring("pat", "POST", "/api/v1/pg/users", { name: "pat_b" }, "after", "createRole");
  assert.deepEqual(await rows("pat_b"), { users: 0, databases: 0 });
  assert.ok((await clusterState(admin)).roles.includes("pat_b"), "the role was left on the cluster");

  const expected: DriftEntry[] = [{ kind: "role", name: "pat_b", side: "cluster", userId: people.pat.id, problem: "a KWS role on the cluster without a row" }];
  assert.deepEqual(await cliDrift(), expected);
  const route = await call("pat", "GET", "/api/v1/pg/drift");
  assert.equal(route.status, 200);
  assert.deepEqual(route.body.drift, expected, "the admin route lists the same");
  const text = await run(["scripts/ops.ts", "pg", "drift"]);
  assert.match(text.out, /role\s+pat_b\s+cluster only/);

  const other = await call("quinn", "POST", "/api/v1/pg/users", { name: "pat_b" });
  assert.equal(other.status, 409, "another person cannot take over the leftover");
  assert.equal((await call("quinn", "DELETE", "/api/v1/pg/users/pat_b")).status, 404);
  assert.ok((await clusterState(admin)).roles.includes("pat_b"));

  const repaired = await call("pat", "POST", "/api/v1/pg/users", { name: "pat_b", password: "a-new-password-for-b" });
  assert.equal(repaired.status, 201);
  assert.equal(await conns.passwordAccepted("pat_b", "a-new-password-for-b"), true, "the adopted role has the new password");
  assert.deepEqual(await rows("pat_b"), { users: 1, databases: 0 });
  assert.deepEqual(await cliDrift(), []);
});

test("a leftover role is also repaired by its person's next delete", async () => {
  await killedDuring("pat", "POST", "/api/v1/pg/users", { name: "pat_b2" }, "after", "createRole");
  assert.deepEqual((await cliDrift()).map((d) => [d.name, d.side]), [["pat_b2", "cluster"]]);
  assert.equal((await call("pat", "DELETE", "/api/v1/pg/users/pat_b2")).status, 204);
  assert.ok(!(await clusterState(admin)).roles.includes("pat_b2"));
  assert.deepEqual(await cliDrift(), []);
});

test("killed after dropping the role, before deleting the rows: drift lists the rows; the next delete or create repairs", async () => {
  for (const name of ["pat_c", "pat_d"]) {
    assert.equal((await call("pat", "POST", "/api/v1/pg/users", { name })).status, 201);
    assert.equal((await call("pat", "POST", "/api/v1/pg/databases", { name: `${name}_db`, owner: name })).status, 201);
    await killedDuring("pat", "DELETE", `/api/v1/pg/users/${name}`, undefined, "after", "dropRole");
    const state = await clusterState(admin);
    assert.ok(!state.roles.includes(name) && !state.databases.includes(`${name}_db`), "gone from the cluster");
    assert.deepEqual(await rows(name), { users: 1, databases: 0 });
    assert.deepEqual(await rows(`${name}_db`), { users: 0, databases: 1 });
  }
  assert.deepEqual(
    (await cliDrift()).map((d) => [d.kind, d.name, d.side]),
    [
      ["database", "pat_c_db", "kws"],
      ["database", "pat_d_db", "kws"],
      ["role", "pat_c", "kws"],
      ["role", "pat_d", "kws"],
    ],
  );

  // pat_c: the next delete removes the rows.
  assert.equal((await call("pat", "DELETE", "/api/v1/pg/users/pat_c")).status, 204);
  assert.deepEqual(await rows("pat_c"), { users: 0, databases: 0 });
  assert.deepEqual(await rows("pat_c_db"), { users: 0, databases: 0 });
  // pat_d: another person cannot claim it; its person's next create makes the role again.
  assert.equal((await call("quinn", "POST", "/api/v1/pg/users", { name: "pat_d" })).status, 409);
  const again = await call("pat", "POST", "/api/v1/pg/users", { name: "pat_d" });
  assert.equal(again.status, 201, JSON.stringify(again.body));
  assert.deepEqual(again.body.user.databases, [], "the database that went with the role is not claimed");
  assert.equal(await conns.passwordAccepted("pat_d", again.body.password), true);
  assert.deepEqual(await rows("pat_d_db"), { users: 0, databases: 0 });
  assert.deepEqual(await cliDrift(), []);
});

test("databases: a leftover on the cluster is dropped by its person's next delete; a leftover row is made again by the next create", async () => {
  assert.equal((await call("pat", "POST", "/api/v1/pg/users", { name: "pat_e" })).status, 201);
  await killedDuring("pat", "POST", "/api/v1/pg/databases", { name: "pat_e_db", owner: "pat_e" }, "after", "createDatabase");
  assert.ok((await clusterState(admin)).databases.includes("pat_e_db"));
  assert.deepEqual(await rows("pat_e_db"), { users: 0, databases: 0 });
  assert.deepEqual(await cliDrift(), [
    { kind: "database", name: "pat_e_db", side: "cluster", userId: people.pat.id, problem: "a database of KWS role pat_e without a row" },
  ]);
  assert.equal((await call("quinn", "DELETE", "/api/v1/pg/databases/pat_e_db")).status, 404, "not another person's to delete");
  assert.equal((await call("pat", "DELETE", "/api/v1/pg/databases/pat_e_db")).status, 204);
  assert.ok(!(await clusterState(admin)).databases.includes("pat_e_db"));

  assert.equal((await call("pat", "POST", "/api/v1/pg/databases", { name: "pat_f_db", owner: "pat_e" })).status, 201);
  await killedDuring("pat", "DELETE", "/api/v1/pg/databases/pat_f_db", undefined, "after", "dropDatabase");
  assert.deepEqual(await rows("pat_f_db"), { users: 0, databases: 1 });
  assert.deepEqual((await cliDrift()).map((d) => [d.name, d.side]), [["pat_f_db", "kws"]]);
  const again = await call("pat", "POST", "/api/v1/pg/databases", { name: "pat_f_db", owner: "pat_e" });
  assert.equal(again.status, 201, JSON.stringify(again.body));
  const pw = bodyAt(await call("pat", "GET", "/api/v1/pg/users/pat_e/password"), 200).password;
  assert.equal(await conns.loginResult("pat_e", pw, "pat_f_db"), "ok");
  assert.deepEqual(await cliDrift(), []);
});

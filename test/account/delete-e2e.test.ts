/**
 * Deleting an account end to end: the control plane and an agent as processes on the real LXD,
 * with a managed-PostgreSQL cluster of the test's own. After the deletion the container is gone
 * from LXD, the pg role and database from the cluster, the rows from KWS's database, and the
 * old session and API token answer 401.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import postgres from "postgres";
import { startPgCluster, type PgTestCluster } from "../support/pg-cluster";
import { bodyAt, resultOf } from "../support/api";
import { Pipeline } from "../support/pipeline";

let cluster: PgTestCluster;
let p: Pipeline;
let containerName: string | undefined;

before(async () => {
  cluster = await startPgCluster();
  p = await Pipeline.start({
    env: {
      // Addresses of this file's own: test files share the LXD bridge.
      KWS_BRIDGE_RANGE: "172.30.0.80-172.30.0.89",
      KWS_INSTANCE_IMAGE: "kws/busybox",
      KWS_INSTANCE_PROVISION: "false",
      KWS_INSTANCE_MEMORY_MB: "64",
      PG_SERVICE_URL: cluster.adminUrl,
    },
  });
});

after(async () => {
  // Whatever a failed assertion left in LXD.
  if (containerName && (await p?.lxd.getInstance(containerName))) {
    await p.lxd.stopInstance(containerName, { force: true }).catch(() => undefined);
    await p.lxd.deleteInstance(containerName).catch(() => undefined);
  }
  await p?.close();
  await cluster?.stop();
});

async function count(sql: postgres.Sql, table: string, userId: string) {
  const [row] = await sql.unsafe<{ n: number }[]>(`select count(*)::int as n from ${table} where user_id = $1`, [userId]);
  return row!.n;
}

test("deleting an account removes its container, its pg role and database, its rows, its session and token", async () => {
  const { cookie, token, password } = await p.account();
  const api = p.apiAs(token);
  const userId = bodyAt(await api("GET", "/me"), 200).user.id;

  const deploy = await api("POST", "/instance", { username: "dev", password: "Busy-Box-123" });
  assert.equal(deploy.status, 202, JSON.stringify(deploy.body));
  const job = await p.waitFinal(deploy.body.job.id, 120_000, token);
  assert.equal(job.status, "succeeded", JSON.stringify(job.error));
  containerName = resultOf(job, "instance.deploy").name;
  assert.ok(await p.lxd.getInstance(containerName), "the container exists");

  const role = `del_${Date.now().toString(36)}`;
  const database = `${role}_db`;
  assert.equal((await api("POST", "/pg/users", { name: role })).status, 201);
  assert.equal((await api("POST", "/pg/databases", { name: database, owner: role })).status, 201);

  const admin = postgres(cluster.adminUrl, { max: 1, onnotice: () => {} });
  const kws = postgres(p.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const onCluster = async () => ({
      roles: (await admin`select rolname from pg_roles where rolname = ${role}`).length,
      databases: (await admin`select datname from pg_database where datname = ${database}`).length,
    });
    assert.deepEqual(await onCluster(), { roles: 1, databases: 1 });

    const del = (body: unknown) =>
      fetch(`${p.url}/api/v1/account`, { method: "DELETE", headers: { cookie, "content-type": "application/json" }, body: JSON.stringify(body) });
    const wrong = await del({ password: "Wrong-Pass-123" });
    assert.equal(wrong.status, 403);
    assert.ok(await p.lxd.getInstance(containerName), "a wrong password removes nothing");
    assert.equal((await api("GET", "/me")).status, 200);

    const res = await del({ password });
    assert.equal(res.status, 204, await res.text());

    assert.equal(await p.lxd.getInstance(containerName), undefined, "the container is gone from LXD");
    assert.deepEqual(await onCluster(), { roles: 0, databases: 0 }, "the role and the database are gone from the cluster");
    const [users] = await kws`select count(*)::int as n from users where id = ${userId}`;
    assert.equal(users!.n, 0, "the account row is gone");
    for (const table of ["instances", "devices", "pg_users", "pg_databases", "api_tokens"]) {
      assert.equal(await count(kws, table, userId), 0, `no ${table} rows are left`);
    }
    const [leases] = await kws`select count(*)::int as n from address_leases where holder like 'instance:%'`;
    assert.equal(leases!.n, 0, "the instance's address is free again");

    assert.equal((await fetch(`${p.url}/api/v1/me`, { headers: { cookie } })).status, 401, "the old session answers 401");
    assert.equal((await api("GET", "/me")).status, 401, "the old API token answers 401");
  } finally {
    await admin.end();
    await kws.end();
  }
});

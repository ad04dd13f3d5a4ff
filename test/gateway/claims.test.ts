import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import type { Database } from "../../shared/db";
import { migrateDatabase } from "../../shared/db/migrate";
import { jobs } from "../../shared/db/schema";
import { insertHost, markConnected, markDisconnected, recordHeartbeats } from "../../functions/hosts/store";
import { finishJob, insertJob } from "../../functions/core/jobs/store";
import { claimJobs, exhaustedOn, hostsWithWork } from "../../functions/gateway/claims";
import { gatewayOf } from "../../functions/core/jobs/notices";
import { freshDatabase } from "../support/database";

let handle: Awaited<ReturnType<typeof freshDatabase>>;
let db: Database;
before(async () => {
  handle = await freshDatabase();
  await migrateDatabase(handle.handle);
  db = handle.handle.db;
});
after(() => handle.drop());

const hello = { agentVersion: "test", lxdVersion: null, degradedReason: null };
let hostCount = 0;
const newHost = () => insertHost(db, { name: `claims-${hostCount++}`, publicAddress: null, enrollmentTokenHash: null, enrollmentExpiresAt: null });
const newJob = (hostId: string) => insertJob(db, { hostId, userId: null, kind: "noop", payload: {}, deadline: new Date(Date.now() + 60_000) });

test("only the connection holding the host claims its jobs, oldest first, each once; a newer connection claims what the old one never finished", async () => {
  const host = await newHost();
  const other = await newHost();
  const created = [];
  for (let i = 0; i < 5; i++) created.push(await newJob(host.id));
  const othersJob = await newJob(other.id);

  assert.deepEqual(await claimJobs(db, host.id, "gw1:a", 10), [], "a connection that does not hold the host claims nothing");
  assert.equal(await markConnected(db, host.id, { connectionId: "gw1:a", gatewayId: "gw1" }, hello), undefined);
  assert.equal(await gatewayOf(db, host.id), "gw1");
  assert.deepEqual(await hostsWithWork(db, "gw1"), [host.id]);

  const first = await claimJobs(db, host.id, "gw1:a", 3);
  assert.deepEqual(first.map((j) => j.id), created.slice(0, 3).map((j) => j.id));
  assert.ok(first.every((j) => j.status === "running" && j.attempts === 1 && j.connectionId === "gw1:a"));
  const rest = await claimJobs(db, host.id, "gw1:a", 10);
  assert.deepEqual(rest.map((j) => j.id), created.slice(3).map((j) => j.id));
  assert.deepEqual(await claimJobs(db, host.id, "gw1:a", 10), [], "nothing is sent twice to one connection");
  assert.deepEqual(await hostsWithWork(db, "gw1"), []);
  await finishJob(db, created[0]!.id, { ok: true, data: null }, host.id);

  // The host moves to another gateway (its old one died): the unfinished jobs go to the new connection.
  assert.deepEqual(await markConnected(db, host.id, { connectionId: "gw2:b", gatewayId: "gw2" }, hello), { connectionId: "gw1:a", gatewayId: "gw1" });
  assert.deepEqual(await claimJobs(db, host.id, "gw1:a", 10), [], "the replaced connection claims nothing");
  assert.deepEqual(await hostsWithWork(db, "gw2"), [host.id]);
  const moved = await claimJobs(db, host.id, "gw2:b", 10);
  assert.deepEqual(moved.map((j) => j.id), created.slice(1).map((j) => j.id));
  assert.ok(moved.every((j) => j.attempts === 2));
  const [untouched] = await db.select().from(jobs).where(eq(jobs.id, othersJob.id));
  assert.equal(untouched!.status, "queued", "another host's job is left alone");
});

test("concurrent claims of one connection never take a job twice", async () => {
  const host = await newHost();
  await markConnected(db, host.id, { connectionId: "gw1:c", gatewayId: "gw1" }, hello);
  for (let i = 0; i < 40; i++) await newJob(host.id);
  const claims = await Promise.all(Array.from({ length: 8 }, () => claimJobs(db, host.id, "gw1:c", 10)));
  const ids = claims.flat().map((j) => j.id);
  assert.equal(ids.length, 40);
  assert.equal(new Set(ids).size, 40);
});

test("a connection's last allowed attempts are found when it ends; heartbeats tell a replaced connection", async () => {
  const host = await newHost();
  const job = await newJob(host.id);
  for (const [i, connectionId] of ["gw1:1", "gw1:2", "gw1:3"].entries()) {
    await markConnected(db, host.id, { connectionId, gatewayId: "gw1" }, hello);
    const [claimed] = await claimJobs(db, host.id, connectionId, 10);
    assert.equal(claimed?.attempts, i + 1);
    assert.deepEqual((await exhaustedOn(db, connectionId)).map((j) => j.id), i === 2 ? [job.id] : []);
  }
  const beats = await recordHeartbeats(db, [
    { hostId: host.id, connectionId: "gw1:2" },
    { hostId: crypto.randomUUID(), connectionId: "gw1:x" },
  ]);
  assert.deepEqual([...beats], [[host.id, "gw1:3"]], "the host is held by another connection; the unknown host is absent");
  await markDisconnected(db, host.id, "gw1:2");
  assert.equal(await gatewayOf(db, host.id), "gw1", "a replaced connection cannot mark the host offline");
  await markDisconnected(db, host.id, "gw1:3");
  assert.equal(await gatewayOf(db, host.id), null);
});

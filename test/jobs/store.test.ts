import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import type { Database } from "../../shared/db";
import { coalesce } from "../../shared/db/coalesce";
import { migrateDatabase } from "../../shared/db/migrate";
import { jobs, type Host } from "../../shared/db/schema";
import { insertHost } from "../../functions/hosts/store";
import { jobOutcomes } from "../../functions/core/jobs/outcomes";
import { finishJob, finishJobs, insertJob, insertJobs } from "../../functions/core/jobs/store";
import { freshDatabase } from "../support/database";

describe("coalesce", () => {
  test("calls of one tick share a batch; calls made while batches run wait for the next one", async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const double = coalesce(
      async (items: number[]) => {
        batches.push(items);
        if (batches.length === 1) await gate;
        return items.map((i) => i * 2);
      },
      { concurrency: 1 },
    );
    const first = [double(1), double(2)];
    await new Promise((r) => setImmediate(r));
    const later = [double(3), double(4), double(5)];
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(batches, [[1, 2]], "the later calls wait while the one batch runs");
    release();
    assert.deepEqual(await Promise.all([...first, ...later]), [2, 4, 6, 8, 10]);
    assert.deepEqual(batches, [[1, 2], [3, 4, 5]]);
  });

  test("a failing batch is retried item by item: only the bad item's caller gets the error", async () => {
    const batches: number[][] = [];
    const check = coalesce(async (items: number[]) => {
      batches.push(items);
      if (items.includes(13)) throw new Error("13 is refused");
      return items.map(String);
    });
    const results = await Promise.allSettled([check(1), check(13), check(3)]);
    assert.deepEqual(
      results.map((r) => (r.status === "fulfilled" ? r.value : (r.reason as Error).message)),
      ["1", "13 is refused", "3"],
    );
    assert.deepEqual(batches, [[1, 13, 3], [1], [13], [3]]);
  });
});

describe("the jobs table, written in batches", () => {
  let handle: Awaited<ReturnType<typeof freshDatabase>>;
  let db: Database;
  let h1: Host;
  let h2: Host;
  before(async () => {
    handle = await freshDatabase();
    await migrateDatabase(handle.handle);
    db = handle.handle.db;
    const host = (name: string) => insertHost(db, { name, publicAddress: null, enrollmentTokenHash: null, enrollmentExpiresAt: null });
    [h1, h2] = [await host("batch-h1"), await host("batch-h2")];
  });
  after(() => handle.drop());

  const newJob = (hostId: string, kind = "noop") =>
    insertJob(db, { hostId, userId: null, kind, payload: {}, deadline: new Date(Date.now() + 60_000) });

  test("insertJobs: one statement, each row in its values' place", async () => {
    const values = Array.from({ length: 30 }, (_, i) => ({
      hostId: i % 3 ? h1.id : h2.id,
      userId: null,
      kind: "noop",
      payload: { n: i },
      deadline: new Date(Date.now() + 60_000 + i),
    }));
    const rows = await insertJobs(db, values);
    assert.deepEqual(
      rows.map((r) => [r.hostId, r.payload, r.status]),
      values.map((v) => [v.hostId, v.payload, "queued"]),
    );
    assert.equal(new Set(rows.map((r) => r.id)).size, 30);
  });

  test("finishJobs: outcomes per job, the first outcome of a job wins, a final job keeps its outcome", async () => {
    const [a, b, c, d] = [await newJob(h1.id), await newJob(h1.id), await newJob(h1.id), await newJob(h2.id)];
    const rows = await finishJobs(db, [
      { id: a.id, outcome: { ok: true, data: { answer: 42 } }, hostId: h1.id },
      { id: b.id, outcome: { ok: false, error: { code: "lxd", message: "LXD: Instance is running" } } },
      { id: c.id, outcome: { ok: true, data: undefined } },
      { id: a.id, outcome: { ok: false, error: { code: "late", message: "a second result" } } },
      { id: d.id, outcome: { ok: true, data: 1 }, hostId: h1.id }, // another host's job
    ]);
    assert.deepEqual(
      rows.map((r) => r && { status: r.status, result: r.result, error: r.error }),
      [
        { status: "succeeded", result: { answer: 42 }, error: null },
        { status: "failed", result: null, error: { code: "lxd", message: "LXD: Instance is running" } },
        { status: "succeeded", result: null, error: null },
        undefined,
        undefined,
      ],
    );
    const again = await finishJobs(db, [{ id: b.id, outcome: { ok: true, data: "overwrite?" } }]);
    assert.deepEqual(again, [undefined]);
    const stored = await db.select().from(jobs).where(eq(jobs.id, b.id));
    assert.equal(stored[0]!.status, "failed");
    const [untouched] = await db.select().from(jobs).where(eq(jobs.id, d.id));
    assert.equal(untouched!.status, "queued");
    assert.ok(rows[0]!.finishedAt instanceof Date);
  });

  test("finishJobs: a kind with a registered outcome handler runs it once, in the transaction of its final row; other kinds do not", async () => {
    const seen: { id: string; status: string; stored: string | undefined }[] = [];
    jobOutcomes.register("test-effect.", async (tx, job) => {
      const [row] = await tx.select().from(jobs).where(eq(jobs.id, job.id));
      seen.push({ id: job.id, status: job.status, stored: row?.status });
    });
    const [effect, plain] = [await newJob(h1.id, "test-effect.change"), await newJob(h1.id)];
    const rows = await finishJobs(db, [
      { id: effect.id, outcome: { ok: false, error: { code: "x", message: "failed" } } },
      { id: plain.id, outcome: { ok: true, data: 1 } },
    ]);
    assert.deepEqual(rows.map((r) => r?.status), ["failed", "succeeded"]);
    assert.deepEqual(await finishJobs(db, [{ id: effect.id, outcome: { ok: true, data: "a second result" } }]), [undefined]);
    assert.deepEqual(seen, [{ id: effect.id, status: "failed", stored: "failed" }]);
  });

  test("finishJob: the longest registered prefix of a kind takes its outcome; the jobs it starts are sent once that outcome is committed", async () => {
    const calls: string[] = [];
    const sent: { id: string; stored: string | undefined }[] = [];
    jobOutcomes.register("test-chain.", async () => void calls.push("broad"));
    jobOutcomes.register("test-chain.next", async (tx, job) => {
      calls.push("narrow");
      return [await insertJob(tx, { hostId: job.hostId, userId: null, kind: "noop", payload: {}, deadline: new Date(Date.now() + 60_000) })];
    });
    // The publisher reads the started job through another connection: it sees only what is committed.
    jobOutcomes.publishThrough(db, async (job) => {
      const [row] = await db.select().from(jobs).where(eq(jobs.id, job.id));
      sent.push({ id: job.id, stored: row?.status });
    });
    await finishJob(db, (await newJob(h1.id, "test-chain.other")).id, { ok: true, data: null });
    const done = await finishJob(db, (await newJob(h1.id, "test-chain.next")).id, { ok: true, data: null });
    assert.equal(done?.status, "succeeded");
    assert.deepEqual(calls, ["broad", "narrow"]);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.stored, "queued", "the started job was committed before it was sent");
  });

  test("finishJob: many concurrent calls, each stored exactly once", async () => {
    const created = await Promise.all(Array.from({ length: 40 }, (_, i) => newJob(i % 2 ? h1.id : h2.id)));
    const finished = await Promise.all(created.map((j, i) => finishJob(db, j.id, { ok: true, data: i }, j.hostId)));
    assert.deepEqual(
      finished.map((r) => r?.result),
      created.map((_, i) => i),
    );
    const resent = await Promise.all(created.map((j) => finishJob(db, j.id, { ok: false, error: { code: "x", message: "late" } })));
    assert.ok(resent.every((r) => r === undefined));
  });
});

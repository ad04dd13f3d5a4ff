import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../shared/logger";
import { Journal } from "../../agent/journal";
import type { ResultBody } from "../../agent/journal";

const root = mkdtempSync(join(tmpdir(), "kws-journal-"));
after(() => rmSync(root, { recursive: true, force: true }));

const warnings: string[] = [];
const logger = createLogger({}, { write: (line) => warnings.push(line) });
let n = 0;
const fresh = () => join(root, `journal-${++n}.jsonl`);

function ok(jobId = randomUUID(), data: unknown = { n }): ResultBody {
  return { type: "result", jobId, ok: true, data };
}

async function open(path: string, keep?: number): Promise<Journal> {
  const journal = new Journal({ path, logger, ...(keep ? { keep } : {}) });
  await journal.start();
  return journal;
}

describe("journal", () => {
  test("record, get, markAcked, unacked", async () => {
    const path = fresh();
    const journal = await open(path);
    const a = ok();
    const b: ResultBody = { type: "result", jobId: randomUUID(), ok: false, error: { code: "lxd_error", message: "LXD: boom" } };
    await journal.record(a);
    await journal.record(b);
    assert.deepEqual(journal.get(a.jobId)?.result, a);
    assert.equal(journal.get(a.jobId)?.acked, false);
    assert.equal(journal.get(randomUUID()), undefined);
    assert.deepEqual(journal.unacked(), [a, b]);
    await journal.markAcked(a.jobId);
    await journal.markAcked(randomUUID());
    assert.deepEqual(journal.unacked(), [b]);
    assert.equal(journal.get(a.jobId)?.acked, true, "an acked job is still remembered");
    await journal.stop();
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });

  test("replays results and acks after a restart", async () => {
    const path = fresh();
    const first = await open(path);
    const a = ok();
    const b = ok();
    await first.record(a);
    await first.record(b);
    await first.markAcked(b.jobId);
    await first.stop();

    const second = await open(path);
    assert.deepEqual(second.get(a.jobId)?.result, a);
    assert.equal(second.get(b.jobId)?.acked, true);
    assert.deepEqual(second.unacked(), [a]);
    await second.stop();
  });

  test("a torn last line (crash mid-write) is ignored, everything before it kept", async () => {
    const path = fresh();
    const first = await open(path);
    const a = ok();
    await first.record(a);
    await first.stop();
    const torn = randomUUID();
    appendFileSync(path, `{"t":"result","at":"2024-01-01T00:00:00Z","result":{"type":"result","jobId":"${torn}","ok":tr`);

    warnings.length = 0;
    const second = await open(path);
    assert.deepEqual(second.get(a.jobId)?.result, a);
    assert.equal(second.get(torn), undefined);
    assert.ok(warnings.some((w) => w.includes("torn last line")), warnings.join("\n"));
    const c = ok();
    await second.record(c);
    await second.stop();

    const third = await open(path);
    assert.deepEqual(third.unacked(), [a, c], "compaction dropped the torn line, so later appends parse");
    await third.stop();
  });

  test("compaction keeps the newest finished jobs and every unacked one", async () => {
    const path = fresh();
    const keep = 10;
    const journal = await open(path, keep);
    const unackedOld = ok();
    await journal.record(unackedOld);
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const r = ok();
      ids.push(r.jobId);
      await journal.record(r);
      await journal.markAcked(r.jobId);
    }
    // Compaction also runs while appending, so the file never grows far past 2 × keep lines.
    const lines = readFileSync(path, "utf8").trim().split("\n").length;
    assert.ok(lines <= keep * 2 + 2, `journal has ${lines} lines`);
    await journal.stop();

    const reopened = await open(path, keep);
    for (const id of ids.slice(-keep)) assert.equal(reopened.get(id)?.acked, true, "the newest are remembered");
    assert.equal(reopened.get(ids[0] ?? ""), undefined, "the oldest acked are forgotten");
    assert.deepEqual(reopened.unacked(), [unackedOld], "an unacked result survives compaction");
    const after = readFileSync(path, "utf8").trim().split("\n");
    assert.ok(after.length <= keep + 1, `compacted to ${after.length} lines`);
    await reopened.stop();
  });
});

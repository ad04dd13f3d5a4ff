import type { Database } from "../../shared/db";
import type { Job } from "../../shared/db/schema";
import type { CommandResult } from "../../shared/protocol/commands";
import { hookById, lockHook, runOfHook, runOfJob, updateRun } from "./queries";
import { startRun, tailBytes } from "./runs";

/**
 * Runs in the transaction that records an exec job's outcome: the hook run of that job gets its
 * exit code and output, and the run that waited behind it starts (its job is answered, to be sent
 * once this commits). Exec jobs of no hook run change nothing.
 */
export async function applyHookRunOutcome(tx: Database, job: Job): Promise<Job[]> {
  const found = await runOfJob(tx, job.id);
  // The hook's lock first, as a delivery takes it: a delivery that queues a run now is seen below.
  if (!found || !(await lockHook(tx, found.hookId))) return [];
  const run = await runOfJob(tx, job.id);
  if (run?.status !== "running") return [];
  const result = job.status === "succeeded" ? (job.result as CommandResult<"instance.exec">) : undefined;
  await updateRun(tx, run.id, {
    status: result?.exitCode === 0 ? "succeeded" : "failed",
    exitCode: result?.exitCode ?? null,
    output: result ? tailBytes(result.stdout + result.stderr) : "",
    error: result ? null : (job.error?.message ?? "the command did not run"),
    finishedAt: new Date(),
  });
  const next = await runOfHook(tx, run.hookId, "queued");
  if (!next) return [];
  const hook = await hookById(tx, run.hookId);
  // The same time allowance as the run before it.
  const started = await startRun(tx, hook!, next, (job.deadline.getTime() - job.createdAt.getTime()) / 1000);
  if (started.ok) return [started.job];
  await updateRun(tx, next.id, { status: "failed", error: started.reason, finishedAt: new Date() });
  return [];
}

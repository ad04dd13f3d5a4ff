import { setTimeout as delay } from "node:timers/promises";
import type { Job } from "../../shared/db/schema";
import { AppError } from "../core/errors";
import { getJob, isFinal } from "../core/jobs/store";
import type { Logger } from "../../shared/logger";
import { devicesOfUser } from "../devices/queries";
import { removeDevice } from "../devices/service";
import { instanceOfUser } from "../instances/queries";
import { instanceAction } from "../instances/service";
import { listPgDatabases, listPgUsers } from "../pg/queries";
import { deleteDatabase, deleteUser, pgContext, step } from "../pg/service";
import type { Services } from "../services";
import { deleteAccountRow, lockAccountForDeletion, remainingResources, revokeAllApiTokens } from "./queries";
import { checkPassword, endAllSessions } from "./service";
import { audit, type Person } from "../audit/record";

/** How long one request waits for the host's jobs before it answers "try again". */
const WAIT_MS = 90_000;
const POLL_MS = 200;

async function waitForJob(s: Services, id: string, until: number, what: string): Promise<Job> {
  for (;;) {
    const job = await getJob(s.db, id);
    if (!job || isFinal(job.status)) return job!;
    if (Date.now() >= until) {
      throw new AppError("unavailable", `${what} is still being removed (its host has not finished yet); try again shortly: deletion goes on from where it is`, { jobId: id });
    }
    await delay(POLL_MS);
  }
}

/**
 * Runs a resource's own removal (the same service the DELETE route uses) and waits for its job.
 * A job of the resource that is still running (409 naming it) is waited out first, then the
 * removal is asked again.
 */
async function removeThroughJob(s: Services, until: number, what: string, remove: () => Promise<Job>): Promise<void> {
  for (;;) {
    let job: Job;
    try {
      job = await remove();
    } catch (err) {
      if (err instanceof AppError && err.code === "conflict" && err.extra.jobId) {
        await waitForJob(s, err.extra.jobId, until, what);
        continue;
      }
      // Gone meanwhile (the job waited for was its removal).
      if (err instanceof AppError && err.code === "not_found") return;
      throw err;
    }
    const done = await waitForJob(s, job.id, until, what);
    if (done.status === "failed") {
      throw new AppError("unavailable", `${what} could not be removed (${done.error?.message ?? "the job failed"}); your account is kept, try again`, { jobId: done.id });
    }
    return;
  }
}

/** The person's managed-PostgreSQL databases and users: their rows, and their roles left on the cluster without one. */
async function removePg(s: Services, log: Logger, who: Person): Promise<void> {
  const { userId } = who;
  const [databases, users] = await Promise.all([listPgDatabases(s.db, userId), listPgUsers(s.db, userId)]);
  if (!s.pgCluster && databases.length === 0 && users.length === 0) return;
  // Throws not_configured when rows exist but the cluster cannot be reached through KWS.
  const { cluster } = pgContext(s);
  for (const d of databases) await deleteDatabase(s, log, who, d.name);
  const leftovers = (await step(log, cluster.roles())).filter((r) => r.ownerId === userId).map((r) => r.name);
  for (const name of new Set([...users.map((u) => u.name), ...leftovers])) await deleteUser(s, log, who, name);
}

/**
 * Deletes the account and everything of it, through each resource's normal path, so the container
 * leaves LXD, the peers leave WireGuard and the roles leave the cluster. Each step is repeatable
 * and the account row goes last, in a transaction that first checks that nothing of the person is
 * left: a failure part-way keeps the account (and the caller's session) for another try, which
 * goes on from where this one stopped.
 *
 * First every session ends and every API token is revoked, so nothing new is made meanwhile;
 * `onLockedOut` gets the new session generation, to give the caller a fresh session for that retry.
 */
export async function deleteAccount(s: Services, log: Logger, who: Person, password: string, onLockedOut: (generation: number) => Promise<void>, waitMs = WAIT_MS): Promise<void> {
  const { userId } = who;
  await checkPassword(s, userId, password, "password");
  await revokeAllApiTokens(s.db, userId);
  await onLockedOut(await endAllSessions(s, log, who));
  const until = Date.now() + waitMs;
  for (const device of await devicesOfUser(s.db, userId)) {
    await removeThroughJob(s, until, `device ${device.name}`, () => removeDevice(s, who, device.id));
  }
  if (await instanceOfUser(s.db, userId)) {
    await removeThroughJob(s, until, "your instance", () => instanceAction(s, who, "kill"));
  }
  await removePg(s, log, who);
  await s.db.transaction(async (tx) => {
    if (!(await lockAccountForDeletion(tx, userId))) return;
    if ((await remainingResources(tx, userId)) > 0) {
      throw new AppError("conflict", "something was created in your account while it was being deleted; delete it again");
    }
    await deleteAccountRow(tx, userId);
    await audit(tx, who, { action: "account.delete", target: { type: "account", id: userId } });
  });
  log.info("account deleted", { userId });
}

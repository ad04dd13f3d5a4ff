import { systemActor } from "../audit/record";
import type { Job } from "../../shared/db/schema";
import { configured } from "../configured";
import { AppError } from "../core/errors";
import { lockUser } from "../core/locks";
import { publishJob } from "../core/jobs/submit";
import { instanceOfUser } from "../instances/queries";
import { instanceAction, queueInstanceJob } from "../instances/service";
import type { Services } from "../services";
import { lockRunning, setIdleStop, type IdleCandidate } from "./queries";
import { idleStatus, storedChoice, type IdleChoice, type IdlePolicy, type IdleStatus } from "./rules";

export const statusOf = (c: IdleCandidate, policy: IdlePolicy): IdleStatus =>
  idleStatus({ state: c.instance.state, stored: c.instance.idleStopMinutes, since: c.since, activity: c.activity, now: c.now }, policy);

/** A person's idle auto-stop choice for their instance, checked against the operator's limits. */
export async function chooseIdleStop(s: Services, userId: string, choice: IdleChoice): Promise<void> {
  const stored = storedChoice(choice, s.config.idleStop);
  await s.db.transaction(async (tx) => {
    await lockUser(tx, userId);
    const instance = await instanceOfUser(tx, userId, true);
    if (!instance) throw new AppError("not_found", "you have no instance; deploy one first");
    await setIdleStop(tx, instance.id, stored);
  });
}

/**
 * Stops the instance through the normal stop job when it is still idle once its row is locked
 * (a request or another control plane may have moved it meanwhile); the job, or undefined.
 */
export async function stopIfIdle(s: Services, instanceId: string): Promise<Job | undefined> {
  const queue = configured(s.queue, "idle auto-stop needs the job queue");
  const job = await s.db.transaction(async (tx) => {
    const c = await lockRunning(tx, instanceId);
    if (!c) return undefined;
    return statusOf(c, s.config.idleStop).due ? queueInstanceJob(tx, s, c.instance, "stop") : undefined;
  });
  if (job) await publishJob(s.db, queue, s.logger, job);
  return job;
}

/**
 * Wake on access: starts the owner's instance through the normal start job. A job another request
 * opened meanwhile is no failure (it is being started already): undefined then.
 */
export async function wakeInstance(s: Services, ownerId: string): Promise<Job | undefined> {
  try {
    return await instanceAction(s, { ...systemActor(), userId: ownerId }, "start");
  } catch (err) {
    if (err instanceof AppError && err.code === "conflict") return undefined;
    throw err;
  }
}

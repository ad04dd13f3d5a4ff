import { systemActor } from "../audit/record";
import type { Job } from "../../shared/db/schema";
import type { Logger } from "../../shared/logger";
import { newSessionGeneration, revokeAllApiTokens } from "../account/queries";
import { isAdmin } from "../auth/users";
import { configured } from "../configured";
import { AppError } from "../core/errors";
import { isRedrivable, redriveFailedJob } from "../core/jobs/redrive";
import { instanceAction } from "../instances/service";
import type { Services } from "../services";
import { failedJobs, personById, searchPeople, setSuspended, type PersonRow } from "./queries";
import type { FailedJobSchema, PersonSchema } from "./schemas";
import type { z } from "@hono/zod-openapi";
import { presentJob } from "../jobs/schemas";

export type PersonJson = z.infer<typeof PersonSchema>;

export function presentPerson({ user, instance }: PersonRow, admins: readonly string[]): PersonJson {
  return {
    id: user.id,
    email: user.email,
    username: user.username,
    verified: user.verifiedAt !== null,
    isAdmin: isAdmin(user, admins),
    suspendedAt: user.suspendedAt?.toISOString() ?? null,
    instance,
    createdAt: user.createdAt.toISOString(),
  };
}

export async function findPeople(s: Services, q: string): Promise<PersonJson[]> {
  return (await searchPeople(s.db, q)).map((row) => presentPerson(row, s.config.admins));
}

async function person(s: Services, userId: string): Promise<PersonJson> {
  const row = await personById(s.db, userId);
  if (!row) throw new AppError("not_found", "no such person");
  return presentPerson(row, s.config.admins);
}

/**
 * Suspends a person: in one transaction the account is marked (sign-in refused from now on), every
 * session ends and every API token is revoked; then a running instance is stopped through the
 * normal stop job. An administrator cannot suspend themselves.
 */
export async function suspendPerson(s: Services, log: Logger, adminId: string, userId: string): Promise<{ person: PersonJson; stopJob?: Job }> {
  if (adminId === userId) throw new AppError("conflict", "you cannot suspend yourself");
  const changed = await s.db.transaction(async (tx) => {
    const row = await setSuspended(tx, userId, true);
    if (!row) return false;
    await newSessionGeneration(tx, userId);
    await revokeAllApiTokens(tx, userId);
    return true;
  });
  const suspended = await person(s, userId);
  if (!changed) throw new AppError("conflict", `${suspended.username} is already suspended`);
  log.info("person suspended", { userId, by: adminId });
  if (suspended.instance?.state !== "running") return { person: suspended };
  try {
    return { person: suspended, stopJob: await instanceAction(s, { ...systemActor(), userId }, "stop") };
  } catch (err) {
    // The instance is busy with a job: the account is suspended all the same; stop it afterwards.
    if (!(err instanceof AppError) || err.code !== "conflict") throw err;
    log.warn("suspended person's instance is busy; not stopped", { userId, err: err.message });
    return { person: suspended };
  }
}

export async function unsuspendPerson(s: Services, log: Logger, adminId: string, userId: string): Promise<PersonJson> {
  const row = await setSuspended(s.db, userId, false);
  const unsuspended = await person(s, userId);
  if (!row) throw new AppError("conflict", `${unsuspended.username} is not suspended`);
  log.info("person unsuspended", { userId, by: adminId });
  return unsuspended;
}

export async function listFailedJobs(s: Services): Promise<z.infer<typeof FailedJobSchema>[]> {
  return (await failedJobs(s.db)).map(({ job, hostName, username }) => ({
    job: presentJob(job),
    host: hostName,
    username,
    deadLettered: job.error?.code === "attempts_exhausted",
    redrivable: isRedrivable(job),
  }));
}

export function redrive(s: Services, log: Logger, jobId: string): Promise<Job> {
  const queue = configured(s.queue, "this deployment has no job queue (run the Node control plane)");
  return redriveFailedJob(s.db, queue, log, jobId, s.config.jobDeadlineSeconds);
}

import { randomUUID } from "node:crypto";
import type { Db } from "../../shared/db";
import { uniqueViolation } from "../../shared/db/errors";
import type { Hook, HookProvider, HookRun, Job } from "../../shared/db/schema";
import type { Logger } from "../../shared/logger";
import { queueAndBox } from "../configured";
import { AppError } from "../core/errors";
import { publishJob } from "../core/jobs/submit";
import { lockUser } from "../core/locks";
import type { Services } from "../services";
import {
  claimDelivery,
  countHooks,
  deleteHook,
  endOrphanedRun,
  hookById,
  hookOfUser,
  hooksOfUser,
  insertHook,
  insertRun,
  lockHook,
  pruneHook,
  runOfDelivery,
  runOfHook,
  runsInLastHour,
  runsOfHook,
  setDeliveryRun,
} from "./queries";
import { startRun } from "./runs";
import { MAX_HOOKS, RUN_TIMEOUT_SECONDS, RUNS_PER_HOUR, type DeliveryAnswer } from "./schemas";
import { newSecret, verifyDelivery } from "./verify";

const ready = (s: Services) => queueAndBox(s, "deploy hooks");

const secretContext = (hook: Pick<Hook, "id">) => `hook:${hook.id}:secret`;
const noSuchHook = (id: string) => new AppError("not_found", `you have no hook ${id}`);
const nameTaken = (name: string) => new AppError("conflict", `name: you already have a hook named ${name}`, { issues: [{ path: "name", message: "is already taken" }] });

export function listHooks(s: Services, userId: string): Promise<Hook[]> {
  return hooksOfUser(s.db, userId);
}

/** A new hook and its secret in the clear, which is never shown again. */
export async function createHook(s: Services, userId: string, body: { name: string; provider: HookProvider; command: string }): Promise<{ hook: Hook; secret: string }> {
  const { box } = ready(s);
  const id = randomUUID();
  const secret = newSecret(body.provider);
  const secretEncrypted = await box.seal(secret, secretContext({ id }));
  try {
    const hook = await s.db.transaction(async (tx) => {
      await lockUser(tx, userId);
      if ((await countHooks(tx, userId)) >= MAX_HOOKS) throw new AppError("limit", `you have ${MAX_HOOKS} hooks, the most allowed; remove one first`);
      return insertHook(tx, { id, userId, name: body.name, provider: body.provider, command: body.command, secretEncrypted });
    });
    return { hook, secret };
  } catch (err) {
    if (uniqueViolation(err) === "hooks_user_name_key") throw nameTaken(body.name);
    throw err;
  }
}

/** Removes the hook with its runs; a command running now runs to its end. */
export async function removeHook(s: Services, userId: string, id: string): Promise<void> {
  if (!(await deleteHook(s.db, userId, id))) throw noSuchHook(id);
}

export async function listRuns(s: Services, userId: string, id: string): Promise<HookRun[]> {
  const hook = await hookOfUser(s.db, userId, id);
  if (!hook) throw noSuchHook(id);
  return runsOfHook(s.db, hook.id);
}

export interface IncomingDelivery {
  header: (name: string) => string | undefined;
  body: Buffer;
}

/** 429 when the hook started RUNS_PER_HOUR runs in the last hour, with when it may start one again. */
async function refuseOverLimit(tx: Db, hookId: string): Promise<void> {
  const { n, oldest } = await runsInLastHour(tx, hookId);
  if (n < RUNS_PER_HOUR) return;
  const seconds = oldest ? Math.max(1, Math.ceil((oldest.getTime() + 3_600_000 - Date.now()) / 1000)) : 60;
  throw new AppError("rate_limited", `this hook started ${RUNS_PER_HOUR} runs in the last hour, the most allowed; try again in ${seconds} s`, {
    headers: { "Retry-After": String(seconds) },
  });
}

/** Thrown inside the delivery's transaction to undo its claim: the id was seen, this is a replay. */
class Replay extends Error {}

/**
 * A provider's delivery to a hook: verified (else 401, nothing recorded), then one of
 * - a ping or a replay of a delivery id seen in the last day: `status` 200, nothing runs;
 * - a run is running and another waits: this delivery joins the waiting one (one run for any
 *   number of pushes);
 * - a run is running: a run is queued behind it, started when it ends;
 * - nothing runs: the command starts now in the person's instance (the waiting run, if one was
 *   left behind a run whose job is gone).
 * At most RUNS_PER_HOUR runs start per hour (429 beyond).
 */
export async function receiveDelivery(s: Services, hookId: string, incoming: IncomingDelivery, log: Logger): Promise<{ status: 200 | 202; answer: DeliveryAnswer }> {
  const { queue, box } = ready(s);
  const hook = await hookById(s.db, hookId);
  if (!hook) throw new AppError("not_found", `no hook ${hookId}`);
  const signed = verifyDelivery(hook.provider, await box.open(hook.secretEncrypted, secretContext(hook)), incoming.header, incoming.body);
  if (signed.ping) return { status: 200, answer: { run: null, message: "pong: the hook is set up" } };
  let decided: { run: HookRun; job?: Job; message: string };
  try {
    decided = await s.db.transaction(async (tx) => {
      if (!(await lockHook(tx, hook.id))) throw new AppError("not_found", `no hook ${hookId}`);
      await pruneHook(tx, hook.id);
      await endOrphanedRun(tx, hook.id);
      if (!(await claimDelivery(tx, hook.id, signed.deliveryId))) throw new Replay();
      const done = async (run: HookRun, message: string, job?: Job) => {
        await setDeliveryRun(tx, hook.id, signed.deliveryId, run.id);
        return { run, job, message };
      };
      const running = await runOfHook(tx, hook.id, "running");
      let waiting = await runOfHook(tx, hook.id, "queued");
      if (waiting && running) return done(waiting, "joined the run that waits for the running one to end");
      if (!waiting) {
        await refuseOverLimit(tx, hook.id);
        waiting = await insertRun(tx, { hookId: hook.id, status: "queued", event: signed.event });
        if (running) return done(waiting, "queued: it starts when the running one ends");
      }
      const started = await startRun(tx, hook, waiting, s.config.jobDeadlineSeconds + RUN_TIMEOUT_SECONDS);
      if (!started.ok) throw new AppError("conflict", `the command cannot run: ${started.reason}`);
      return done(started.run, "started", started.job);
    });
  } catch (err) {
    if (!(err instanceof Replay)) throw err;
    const run = await runOfDelivery(s.db, hook.id, signed.deliveryId);
    return { status: 200, answer: { run: run ? { id: run.id, jobId: run.jobId } : null, message: "already received: this delivery's run" } };
  }
  log.info("hook delivery", { hookId: hook.id, runId: decided.run.id, jobId: decided.job?.id, event: signed.event, delivery: signed.deliveryId });
  if (decided.job) await publishJob(s.db, queue, log, decided.job);
  return { status: 202, answer: { run: { id: decided.run.id, jobId: decided.run.jobId }, message: decided.message } };
}

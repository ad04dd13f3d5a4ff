import type { Config } from "../../shared/config";
import { eq } from "drizzle-orm";
import { releaseAddress } from "../core/addresses/store";
import type { Database } from "../../shared/db";
import { instances, type Instance, type InstanceState, type Job } from "../../shared/db/schema";
import { getHost } from "../hosts/store";
import { recordEvent } from "../webhooks/outbox";
import type { WebhookEventType } from "../webhooks/events";
import { presentInstance } from "./present";

export const instanceAddressHolder = (instance: Pick<Instance, "id">) => `instance:${instance.id}`;

/** The state an instance is in after its job ended this way; undefined: unchanged. */
function nextState(kind: string, ok: boolean): InstanceState | "gone" | undefined {
  switch (kind) {
    case "instance.deploy":
      return ok ? "running" : "failed";
    case "instance.start":
      return ok ? "running" : undefined;
    case "instance.stop":
      return ok ? "stopped" : undefined;
    case "instance.delete":
      return ok ? "gone" : undefined;
    default:
      return undefined;
  }
}

const EVENTS: Partial<Record<InstanceState | "gone", WebhookEventType>> = {
  failed: "instance.failed",
  stopped: "instance.stopped",
  gone: "instance.deleted",
};

/** The event of a change to `next`: a deploy's running is `deployed`, a start's `started`. */
function eventOf(kind: string, next: InstanceState | "gone"): WebhookEventType | undefined {
  if (next === "running") return kind === "instance.deploy" ? "instance.deployed" : "instance.started";
  return EVENTS[next];
}

/**
 * Runs in the transaction that records a job's outcome, so the instance row and the job can never
 * disagree: a deploy that failed leaves a failed (redeployable) instance, never one reported
 * running; a kill that succeeded leaves no row, no address and no published app behind. The change
 * is recorded as a webhook event in the same transaction (a killed instance as it was last).
 */
export async function applyInstanceOutcome(tx: Database, job: Job, config: Pick<Config, "appsUrl" | "idleStop">): Promise<void> {
  const [instance] = await tx.select().from(instances).where(eq(instances.jobId, job.id)).for("update");
  if (!instance) return;
  const next = nextState(job.kind, job.status === "succeeded");
  if (!next) return;
  let changed: Instance = instance;
  if (next === "gone") {
    // Its published apps go with the row (apps.instance_id cascades): their names answer 404 and are free again.
    await tx.delete(instances).where(eq(instances.id, instance.id));
    await releaseAddress(tx, { pool: "bridge", holder: instanceAddressHolder(instance) });
  } else {
    [changed] = (await tx.update(instances).set({ state: next, updatedAt: new Date() }).where(eq(instances.id, instance.id)).returning()) as [Instance];
  }
  const event = eventOf(job.kind, next);
  if (event) await recordEvent(tx, instance.userId, event, presentInstance({ instance: changed, host: await getHost(tx, instance.hostId), job }, config));
}

/**
 * A failed instance job may run again while it is still its instance's latest. Jobs an
 * administrator sent straight to a host (instance.exec, no instance row) change no row: they may.
 */
export async function instanceWaitsOn(tx: Database, job: Job): Promise<boolean> {
  if (nextState(job.kind, true) === undefined) return true;
  const [instance] = await tx.select({ id: instances.id }).from(instances).where(eq(instances.jobId, job.id)).limit(1);
  return instance !== undefined;
}

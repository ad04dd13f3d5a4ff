import type { z } from "@hono/zod-openapi";
import type { Instance, InstanceActivity } from "../../shared/db/schema";
import { choiceOf, idleStatus, type IdlePolicy } from "./rules";
import type { IdleSchema } from "./schemas";

export type IdleJson = z.infer<typeof IdleSchema>;

const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;

/** The idle part of an instance: its setting, when it stops, and why it is awake. */
export function presentIdle(instance: Instance, since: Date, activity: InstanceActivity | undefined, policy: IdlePolicy, now = new Date()): IdleJson {
  const status = idleStatus({ state: instance.state, stored: instance.idleStopMinutes, since, activity, now }, policy);
  return {
    setting: choiceOf(instance.idleStopMinutes),
    minutes: status.minutes,
    stopsAt: iso(status.stopsAt),
    awakeBecause: status.awakeBecause,
    last: { started: iso(since), ide: iso(activity?.ideAt), ssh: iso(activity?.sshAt), streams: iso(activity?.streamsAt), ingress: iso(activity?.ingressAt) },
    open: { ssh: activity?.sshSessions ?? null, streams: activity?.streamsOpen ?? null },
    reportedAt: iso(activity?.reportedAt),
  };
}

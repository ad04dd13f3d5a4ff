import type { Config } from "../../shared/config";
import type { Instance, InstanceActivity, InstanceState, Job } from "../../shared/db/schema";
import type { ActivitySettings } from "../../shared/protocol/messages";
import { invalid } from "../core/errors";
import { IDE_PORT } from "../instances/service";

export type IdlePolicy = Config["idleStop"];

/** What keeps an instance awake: its start, or one kind of activity. */
export const awakeReasons = ["started", "ide", "ssh", "streams", "ingress"] as const;
export type AwakeReason = (typeof awakeReasons)[number];

const MINUTE = 60_000;
const SSH_PORT = 22;

/** A person's choice: minutes, never, or the operator's default. */
export type IdleChoice = number | "never" | "default";

/** The stored column (instances.idle_stop_minutes) as a choice. */
export function choiceOf(stored: number | null): IdleChoice {
  return stored === null ? "default" : stored === 0 ? "never" : stored;
}

/** A choice checked against the operator's limits, as stored; a longer time than allowed is a 400 naming the field. */
export function storedChoice(choice: IdleChoice, policy: IdlePolicy): number | null {
  if (choice === "default") return null;
  const max = policy.maxMinutes;
  if (choice === "never") {
    if (max !== null) throw invalid("idleStop", `must be at most ${max} minutes: this KWS does not let instances stay up forever`);
    return 0;
  }
  if (max !== null && choice > max) throw invalid("idleStop", `must be at most ${max} minutes`);
  return choice;
}

/**
 * The idle time that applies now, in minutes (null: never). A choice the operator no longer allows
 * (they lowered the limit since) is held to the limit.
 */
export function effectiveMinutes(stored: number | null, policy: IdlePolicy): number | null {
  const max = policy.maxMinutes;
  if (stored === null) return policy.defaultMinutes;
  if (stored === 0) return max;
  return max === null ? stored : Math.min(stored, max);
}

/** When the instance became running: the end of its latest job (a start or deploy), else its row's last change. */
export function awakeSince(instance: Pick<Instance, "updatedAt">, job: Pick<Job, "finishedAt"> | undefined): Date {
  return job?.finishedAt ?? instance.updatedAt;
}

export interface IdleInputs {
  state: InstanceState;
  stored: number | null;
  /** When the instance last became running (its start or deploy ended). */
  since: Date;
  activity: InstanceActivity | undefined;
  now: Date;
}

export interface IdleStatus {
  minutes: number | null;
  /** When it stops if nothing happens (running only; null: never). */
  stopsAt: Date | null;
  /** What happened within the idle time: the answer to "why is it awake". */
  awakeBecause: AwakeReason[];
  /** Past its time, and the host's agent has looked since and seen nothing newer: stop it. */
  due: boolean;
}

const lastOf = (a: InstanceActivity | undefined): Record<Exclude<AwakeReason, "started">, Date | null> => ({
  ide: a?.ideAt ?? null,
  ssh: a?.sshAt ?? null,
  streams: a?.streamsAt ?? null,
  ingress: a?.ingressAt ?? null,
});

/**
 * The one rule of idle auto-stop, for the checker and for what the API and the page show. The
 * clock starts when the instance became running; each kind of activity restarts it. Nothing is
 * stopped on missing reports: only a report made after the time ran out, showing nothing newer.
 */
export function idleStatus({ state, stored, since, activity, now }: IdleInputs, policy: IdlePolicy): IdleStatus {
  const minutes = effectiveMinutes(stored, policy);
  if (state !== "running") return { minutes, stopsAt: null, awakeBecause: [], due: false };
  const seen: [AwakeReason, Date | null][] = [["started", since], ...Object.entries(lastOf(activity))] as [AwakeReason, Date | null][];
  const last = Math.max(...seen.map(([, at]) => at?.getTime() ?? 0));
  if (minutes === null) return { minutes, stopsAt: null, awakeBecause: [], due: false };
  const windowStart = now.getTime() - minutes * MINUTE;
  const stopsAt = new Date(last + minutes * MINUTE);
  const reported = activity?.reportedAt?.getTime();
  return {
    minutes,
    stopsAt,
    awakeBecause: seen.filter(([, at]) => at !== null && at.getTime() > windowStart).map(([reason]) => reason),
    due: stopsAt.getTime() <= now.getTime() && reported !== undefined && reported >= stopsAt.getTime(),
  };
}

/**
 * How often agents report activity and the checker looks: a fifth of the shortest idle time in
 * use (a person may choose one minute), between 2 and 30 s.
 */
export function checkIntervalMs(policy: IdlePolicy): number {
  const shortest = Math.min(policy.defaultMinutes ?? Infinity, 1) * MINUTE;
  return Math.round(Math.min(30_000, Math.max(2_000, shortest / 5)));
}

/** What the gateway asks each agent to report (the welcome's `activity`). */
export function activitySettings(policy: IdlePolicy): ActivitySettings {
  return { intervalMs: checkIntervalMs(policy), idePort: IDE_PORT, sshPort: SSH_PORT };
}

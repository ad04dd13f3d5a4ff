import type { z } from "@hono/zod-openapi";
import type { InstanceSchema } from "./schemas";
import { appUrl } from "../ingress/names";
import type { Config } from "../../shared/config";
import { presentIdle } from "../idle/present";
import { awakeSince } from "../idle/rules";
import type { InstanceView } from "./service";

export type InstanceJson = z.infer<typeof InstanceSchema>;

/** The IDE is served at the instance's label under the apps base (config.appsUrl). */
export function presentInstance({ instance, host, job, password, activity }: InstanceView, config: Pick<Config, "appsUrl" | "idleStop">): InstanceJson {
  if (!instance) return { state: "none", host: null, ip: null, username: null, urls: null, job: null, idle: null, createdAt: null };
  const { appsUrl } = config;
  return {
    state: instance.state,
    host: host?.name ?? null,
    ip: instance.ipv4,
    username: instance.username,
    urls: { ide: appUrl(appsUrl, instance.label), ssh: `ssh ${instance.username}@${instance.ipv4}` },
    ...(password !== undefined ? { password } : {}),
    job: job ? { id: job.id, kind: job.kind, status: job.status, ...(job.error ? { error: job.error } : {}) } : null,
    idle: presentIdle(instance, awakeSince(instance, job), activity, config.idleStop),
    createdAt: instance.createdAt.toISOString(),
  };
}

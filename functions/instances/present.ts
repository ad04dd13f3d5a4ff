import type { z } from "@hono/zod-openapi";
import type { InstanceSchema } from "./schemas";
import { appUrl } from "../ingress/names";
import type { InstanceView } from "./service";

export type InstanceJson = z.infer<typeof InstanceSchema>;

/** `appsUrl`: the apps base (config.appsUrl); the IDE is served at the instance's label under it. */
export function presentInstance({ instance, host, job, password }: InstanceView, appsUrl: string): InstanceJson {
  if (!instance) return { state: "none", host: null, ip: null, username: null, urls: null, job: null, createdAt: null };
  return {
    state: instance.state,
    host: host?.name ?? null,
    ip: instance.ipv4,
    username: instance.username,
    urls: { ide: appUrl(appsUrl, instance.label), ssh: `ssh ${instance.username}@${instance.ipv4}` },
    ...(password !== undefined ? { password } : {}),
    job: job ? { id: job.id, kind: job.kind, status: job.status, ...(job.error ? { error: job.error } : {}) } : null,
    createdAt: instance.createdAt.toISOString(),
  };
}

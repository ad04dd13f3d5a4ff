import type { z } from "@hono/zod-openapi";
import type { InstanceSchema } from "./schemas";
import { IDE_PORT, type InstanceView } from "./service";

export type InstanceJson = z.infer<typeof InstanceSchema>;

export function presentInstance({ instance, host, job, password }: InstanceView): InstanceJson {
  if (!instance) return { state: "none", host: null, ip: null, username: null, urls: null, job: null, createdAt: null };
  return {
    state: instance.state,
    host: host?.name ?? null,
    ip: instance.ipv4,
    username: instance.username,
    urls: { ide: `http://${instance.ipv4}:${IDE_PORT}/`, ssh: `ssh ${instance.username}@${instance.ipv4}` },
    ...(password !== undefined ? { password } : {}),
    job: job ? { id: job.id, kind: job.kind, status: job.status, ...(job.error ? { error: job.error } : {}) } : null,
    createdAt: instance.createdAt.toISOString(),
  };
}

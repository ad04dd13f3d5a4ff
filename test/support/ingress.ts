import { randomUUID } from "node:crypto";
import { request } from "node:http";
import { eq } from "drizzle-orm";
import type { Database } from "../../shared/db";
import { hosts, instances, type Instance, type InstanceState } from "../../shared/db/schema";

/**
 * A running instance row of `userId` at `ipv4` (on `hostId`, or on a new host row), for tests of what is
 * built on an instance without deploying a container; deploys themselves are tested elsewhere.
 */
export async function seedInstance(db: Database, userId: string, o: { ipv4?: string; state?: InstanceState; label?: string; hostId?: string } = {}): Promise<Instance> {
  const hostId = o.hostId ?? (await db.insert(hosts).values({ name: `seed-${randomUUID().slice(0, 8)}` }).returning())[0]!.id;
  const [row] = await db
    .insert(instances)
    .values({
      userId,
      hostId,
      name: `kws-${userId}`,
      label: o.label ?? `ide-${randomUUID().slice(0, 8)}`,
      username: "dev",
      passwordEncrypted: "unused",
      ipv4: o.ipv4 ?? "127.0.0.1",
      image: "kws/busybox",
      memoryMB: 64,
      state: o.state ?? "running",
    })
    .returning();
  return row!;
}

export async function setInstanceState(db: Database, id: string, state: InstanceState): Promise<void> {
  await db.update(instances).set({ state }).where(eq(instances.id, id));
}

export interface HostResponse {
  status: number;
  headers: import("node:http").IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One request to the server at `url` for the app host `host` (e.g. shop.localhost:8080): the
 * system resolver does not know *.localhost, so the connection goes to the server's own address.
 */
export function hostRequest(
  url: string,
  host: string,
  o: { method?: string; path?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<HostResponse> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: target.hostname, port: target.port, method: o.method ?? "GET", path: o.path ?? "/", headers: { ...o.headers, host }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(o.body);
  });
}

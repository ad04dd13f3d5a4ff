import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { request } from "node:http";
import { eq } from "drizzle-orm";
import type { Database } from "../../shared/db";
import { hosts, instances, type Instance, type InstanceState } from "../../shared/db/schema";

/**
 * A running instance row of `userId` at `ipv4` on `hostId` (default: a new host row to hold it),
 * for tests of what is built on an instance without deploying a container; deploys themselves are
 * tested elsewhere.
 */
export async function seedInstance(
  db: Database,
  userId: string,
  o: { ipv4?: string; state?: InstanceState; label?: string; hostId?: string } = {},
): Promise<Instance> {
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

/**
 * `count` clients in a process of their own (python, so their buffers are not counted in this
 * process's memory) that each GET `path` of the app host `host` through the server at `url`, read
 * the head and what fits in one small read, then stop reading and hold their connection. Resolves
 * with the status of every response once each has its head; `close` kills them all at once.
 */
export async function slowReaders(url: string, host: string, path: string, count: number): Promise<{ statuses: number[]; close(): void }> {
  const code = [
    "import json,socket,sys",
    "addr,port,host,path,n=sys.argv[1],int(sys.argv[2]),sys.argv[3],sys.argv[4],int(sys.argv[5])",
    "held=[]",
    "for _ in range(n):",
    "  s=socket.socket()",
    // A small receive buffer (set before connect, so the kernel does not grow it): the sender
    // fills it at once, and what the reader refuses stays with the server.
    "  s.setsockopt(socket.SOL_SOCKET,socket.SO_RCVBUF,64*1024)",
    "  s.connect((addr,port))",
    "  s.sendall(f'GET {path} HTTP/1.1\\r\\nHost: {host}\\r\\nConnection: close\\r\\n\\r\\n'.encode())",
    "  held.append(s)",
    "statuses=[]",
    "for s in held:",
    "  data=b''",
    "  while b'\\r\\n\\r\\n' not in data:",
    "    chunk=s.recv(64*1024)",
    "    if not chunk: break",
    "    data+=chunk",
    "  statuses.append(int(data.split(b' ',2)[1]) if data else 0)",
    "print(json.dumps(statuses),flush=True)",
    "sys.stdin.read()",
  ].join("\n");
  const target = new URL(url);
  const child = spawn("python3", ["-c", code, target.hostname, target.port, host, path, String(count)], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  const statuses = await new Promise<number[]>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("\n")) resolve(JSON.parse(out) as number[]);
    });
    child.once("exit", (code) => reject(new Error(`the slow readers exited (${code}) before every response began`)));
  });
  return { statuses, close: () => child.kill("SIGKILL") };
}

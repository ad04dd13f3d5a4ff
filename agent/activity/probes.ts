import { readFile } from "node:fs/promises";
import { request } from "node:http";

/** /proc/net/tcp's state column for an established connection. */
const ESTABLISHED = "01";

/**
 * Established TCP connections to local `port` in the network namespace of process `pid` (a
 * container's init, read from the host: no exec inside the container), IPv4 and IPv6.
 */
export async function establishedTo(pid: number, port: number, procRoot = "/proc"): Promise<number> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  let count = 0;
  for (const table of ["tcp", "tcp6"]) {
    const text = await readFile(`${procRoot}/${pid}/net/${table}`, "utf8");
    for (const line of text.split("\n").slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state === ESTABLISHED && local?.endsWith(`:${hexPort}`)) count += 1;
    }
  }
  return count;
}

/**
 * How long ago code-server last beat (`GET /healthz` → `lastHeartbeat`, ms since the epoch; the
 * container shares the host's clock); null when it never did or does not answer. code-server leaves
 * /healthz out of its own activity, and the connection is closed at once: an open one would count.
 */
export function heartbeatAge(address: string, port: number, timeoutMs = 2000, now: () => number = Date.now): Promise<number | null> {
  return new Promise((resolve) => {
    const req = request({ host: address, port, path: "/healthz", agent: false, headers: { connection: "close" }, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      res.on("end", () => {
        try {
          const last = (JSON.parse(body) as { lastHeartbeat?: unknown }).lastHeartbeat;
          resolve(typeof last === "number" && last > 0 ? Math.max(0, now() - last) : null);
        } catch {
          resolve(null);
        }
      });
      res.on("error", () => resolve(null));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(null));
    req.end();
  });
}

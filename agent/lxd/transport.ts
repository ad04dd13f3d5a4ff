import { request } from "node:http";
import type { IncomingHttpHeaders } from "node:http";
import { LxdUnavailableError } from "./errors";

export interface RawRequest {
  socketPath: string;
  method: string;
  path: string;
  body?: Buffer;
  headers?: Record<string, string>;
  timeoutMs: number;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const UNAVAILABLE_CODES: Record<string, string> = {
  ENOENT: "the socket does not exist",
  ECONNREFUSED: "nothing is listening on the socket (the daemon is not running)",
  ENOTSOCK: "the path is not a unix socket",
  EACCES: "no permission to open the socket (run as root or as a member of the lxd group)",
  ECONNRESET: "the daemon closed the connection",
};

/** One HTTP exchange over LXD's unix socket; the body is read whole. */
export function unixRequest(req: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...req.headers };
    if (req.body) headers["Content-Length"] = req.body.length;
    const r = request(
      {
        socketPath: req.socketPath,
        // LXD ignores the host; the Go client uses this one.
        host: "unix.socket",
        method: req.method,
        path: req.path,
        headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    r.setTimeout(req.timeoutMs, () => {
      r.destroy(
        new LxdUnavailableError(
          req.socketPath,
          `no answer to ${req.method} ${req.path} within ${req.timeoutMs} ms on ${req.socketPath}`,
        ),
      );
    });
    r.on("error", (err: NodeJS.ErrnoException) => {
      const reason = err.code ? UNAVAILABLE_CODES[err.code] : undefined;
      if (reason) reject(new LxdUnavailableError(req.socketPath, `${reason}: ${req.socketPath}`, { cause: err }));
      else reject(err);
    });
    r.end(req.body);
  });
}

import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";

// One block for every download: 200 concurrent ones hold views of it, not 200 copies.
const BLOCK = Buffer.alloc(64 * 1024);
for (let i = 0; i < BLOCK.length; i++) BLOCK[i] = (i * 31 + 7) & 0xff;

/** `size` bytes of a fixed pattern, in 64 KiB chunks, and its SHA-256 (computed when asked: the app serves without it). */
export function pattern(size: number): { chunks: () => Generator<Buffer>; readonly sha256: string } {
  function* chunks() {
    for (let sent = 0; sent < size; sent += BLOCK.length) yield BLOCK.subarray(0, Math.min(BLOCK.length, size - sent));
  }
  return {
    chunks,
    get sha256() {
      const hash = createHash("sha256");
      for (const c of chunks()) hash.update(c);
      return hash.digest("hex");
    },
  };
}

/**
 * The app of the tests, a plain node:http server: it records the headers of every request, and
 * serves `/big?size=N` (a known pattern), `/upload` (answers the SHA-256 of the body), `/sse` (one
 * event now, the next one after a second) and a websocket echo.
 */
export class AppServer {
  /** Every request: its path, its headers, and the port its connection came from (one per connection). */
  readonly seen: { path: string; headers: IncomingHttpHeaders; remotePort?: number }[] = [];
  /** Downloads (`/big`) whose response is still open. */
  openDownloads = 0;
  /** Bytes of every download handed to node:http so far (a stalled total means the readers hold the app back). */
  downloadedBytes = 0;
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true });

  private constructor() {
    this.server = createServer((req, res) => {
      this.seen.push({ path: req.url ?? "/", headers: req.headers, remotePort: req.socket.remotePort });
      const url = new URL(req.url ?? "/", "http://app");
      if (url.pathname === "/big") {
        const { chunks } = pattern(Number(url.searchParams.get("size")));
        res.writeHead(200, { "content-type": "application/octet-stream" });
        this.openDownloads++;
        res.on("close", () => this.openDownloads--);
        const it = chunks();
        const pump = () => {
          for (let next = it.next(); !next.done; next = it.next()) {
            this.downloadedBytes += next.value.length;
            if (!res.write(next.value)) return void res.once("drain", pump);
          }
          res.end();
        };
        pump();
      } else if (url.pathname === "/upload") {
        const hash = createHash("sha256");
        let bytes = 0;
        req.on("data", (c: Buffer) => {
          hash.update(c);
          bytes += c.length;
        });
        req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ bytes, sha256: hash.digest("hex") })));
      } else if (url.pathname === "/sse") {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
        res.write("data: first\n\n");
        const timer = setTimeout(() => res.end("data: second\n\n"), 1000);
        res.on("close", () => clearTimeout(timer));
      } else {
        res.writeHead(200, { "content-type": "text/plain", "set-cookie": ["app_a=1; Path=/", "app_b=2; Path=/"] });
        res.end(`hello from the app: ${req.method} ${req.url}`);
      }
    });
    this.server.on("upgrade", (req, socket, head) => {
      this.seen.push({ path: req.url ?? "/", headers: req.headers });
      this.wss.handleUpgrade(req, socket, head, (ws) => ws.on("message", (data, binary) => ws.send(data, { binary })));
    });
  }

  static async start(): Promise<AppServer> {
    const app = new AppServer();
    app.server.listen(0, "127.0.0.1");
    await new Promise((resolve) => app.server.once("listening", resolve));
    return app;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Closes the connections that wait for a next request, as a server's keep-alive timeout does. */
  closeIdleConnections(): void {
    this.server.closeIdleConnections();
  }

  async close() {
    for (const ws of this.wss.clients) ws.terminate();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

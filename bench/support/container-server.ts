/**
 * The server the `ingress` bench reaches every way (through the ingress, through a plain relay,
 * directly), in a process of its own as a container's server would be: `/` answers two bytes,
 * `/big?size=N` streams N bytes, a websocket upgrade is held open (and echoes). Prints its port.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";

const block = Buffer.alloc(64 * 1024, 7);
const wss = new WebSocketServer({ noServer: true });
const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://container");
  if (url.pathname !== "/big") {
    res.writeHead(200, { "content-type": "text/plain", "content-length": "2" }).end("ok");
    return;
  }
  const size = Number(url.searchParams.get("size"));
  res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(size) });
  let sent = 0;
  const pump = () => {
    while (sent < size) {
      const n = Math.min(block.length, size - sent);
      sent += n;
      if (!res.write(n === block.length ? block : block.subarray(0, n))) return void res.once("drain", pump);
    }
    res.end();
  };
  pump();
});
server.on("upgrade", (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => ws.on("message", (data, binary) => ws.send(data, { binary }))));
server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: (server.address() as AddressInfo).port })));

import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";

/**
 * Takes an HTTP upgrade it serves and answers true; false leaves it to the next handler. It may
 * answer later (the ingress looks custom domains up): the client sends nothing before its 101.
 */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean | Promise<boolean>;

/**
 * The server's one "upgrade" listener: each handler (the gateway, the agents' stream endpoint,
 * the ingress) takes its own paths; an upgrade nobody takes is answered 404 here and only here.
 */
export function routeUpgrades(server: Server, handlers: readonly UpgradeHandler[]): void {
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void (async () => {
      for (const handle of handlers) if (await handle(req, socket, head)) return;
      rejectUpgrade(socket, 404, "not_found", "no websocket endpoint at this path");
    })().catch(() => socket.destroy());
  });
}

/** The JSON error envelope as a raw HTTP answer on a socket that asked to upgrade. */
export function rejectUpgrade(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

/** The path of an upgrade request, without its query. */
export function upgradePath(req: IncomingMessage): string {
  return new URL(req.url ?? "/", "http://upgrade").pathname;
}

import type { Duplex } from "node:stream";
import WebSocket from "ws";
import { MAX_FRAME_BYTES } from "../shared/streams/frames";
import { apiError } from "./api";
import { CliError } from "./errors";

/** A websocket that opened, with the TCP socket under it (the stream mux corks it) and the answer's headers. */
export interface OpenWebSocket {
  ws: WebSocket;
  socket: Duplex;
  headers: Record<string, string | string[] | undefined>;
}

/** The control plane refused the websocket with an HTTP answer: the CliError it means, and its status. */
export class WebSocketRefused extends Error {
  constructor(
    readonly status: number,
    readonly error: CliError,
  ) {
    super(error.message);
    this.name = "WebSocketRefused";
  }
}

/**
 * Opens a websocket to `path` on the control plane at `baseUrl` (ws: for http:, wss: for https:)
 * with the API token. Rejects with WebSocketRefused when the control plane answered instead of
 * upgrading (its error envelope read as the API client reads it), or with the network's error.
 */
export function openWebSocket(baseUrl: string, path: string, token: string, headers: Record<string, string> = {}): Promise<OpenWebSocket> {
  const url = new URL(path, baseUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      headers: { ...headers, authorization: `Bearer ${token}`, "user-agent": "kws-cli" },
      handshakeTimeout: 15_000,
      perMessageDeflate: false,
      maxPayload: MAX_FRAME_BYTES,
    });
    let answer: OpenWebSocket["headers"] = {};
    let socket: Duplex | undefined;
    ws.on("upgrade", (res) => {
      answer = res.headers;
      socket = res.socket;
    });
    ws.once("unexpected-response", (_req, res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        const response = new Response(body.length ? body : null, { status: res.statusCode ?? 500, statusText: res.statusMessage ?? "" });
        void apiError(response).then((error) => {
          reject(new WebSocketRefused(res.statusCode ?? 500, error));
          // After the answer is read: ending the handshake also reports an error, which must not win.
          ws.terminate();
        });
      });
    });
    ws.on("error", (err) => reject(err));
    ws.once("open", () => resolve({ ws, socket: socket!, headers: answer }));
  });
}

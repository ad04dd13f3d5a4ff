import type WebSocket from "ws";
import type { RawData } from "ws";
import type { Duplex } from "node:stream";
import type { Logger } from "../logger";
import { FrameError } from "./frames";
import { keepAlive } from "./keepalive";
import { Mux, type MuxOptions } from "./mux";

/** Close code for a peer that broke the stream protocol. */
const PROTOCOL_ERROR = 1002;

export interface WebSocketMuxOptions extends Omit<MuxOptions, "transport"> {
  pingMs: number;
  logger: Logger;
  /** The websocket's TCP (or TLS) socket, corked while a tick sends frames. */
  socket: Duplex;
}

/**
 * Every frame is a websocket message and each message a write of its own: a syscall each, the
 * largest cost of small exchanges in a CPU profile. Frames sent in one tick leave in one write
 * (holding them to the loop's check phase saved more syscalls but cost a third of the requests/s
 * under 64 concurrent clients: every hop waited for the rest of its poll phase).
 */
function corkEachTick(socket: Duplex): () => void {
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  return () => {
    if (corked) return;
    corked = true;
    socket.cork();
    process.nextTick(uncork);
  };
}

/**
 * A Mux over one websocket (binary messages, one frame each), kept alive with pings; when the
 * socket closes every stream on it is destroyed with an error.
 */
export function muxOverWebSocket(ws: WebSocket, options: WebSocketMuxOptions): Mux {
  const { pingMs, logger, socket, ...muxOptions } = options;
  const cork = corkEachTick(socket);
  const mux = new Mux({
    ...muxOptions,
    transport: {
      send: (frame, done) => {
        cork();
        ws.send(frame, { binary: true }, done);
      },
    },
  });
  const stopKeepAlive = keepAlive(ws, pingMs, () => logger.warn("stream connection silent: dropping it", { silentMs: pingMs }));
  ws.on("message", (data: RawData, isBinary: boolean) => {
    try {
      if (!isBinary || !Buffer.isBuffer(data)) throw new FrameError("stream frames are binary messages");
      mux.receive(data);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      logger.warn("stream protocol error: dropping the connection", { error: err.message });
      ws.close(PROTOCOL_ERROR, err.message.slice(0, 100));
      mux.close(err);
    }
  });
  ws.on("close", (code: number, reason: Buffer) => {
    stopKeepAlive();
    mux.close(new Error(`stream connection closed (${code}${reason.length ? ` ${reason.toString()}` : ""})`));
  });
  return mux;
}

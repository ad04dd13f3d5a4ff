import type WebSocket from "ws";

/** Ping interval of the stream connections: below the 30-60 s idle timeouts of common proxies. */
export const STREAM_PING_MS = 20_000;

/**
 * Pings `ws` every `intervalMs` and terminates it when nothing (no pong, no frame) came back
 * between two pings. Returns the function that stops it.
 */
export function keepAlive(ws: WebSocket, intervalMs: number, onSilent?: () => void): () => void {
  let heard = true;
  const hear = () => (heard = true);
  ws.on("pong", hear);
  ws.on("message", hear);
  const timer = setInterval(() => {
    if (!heard) {
      onSilent?.();
      ws.terminate();
      return;
    }
    heard = false;
    ws.ping();
  }, intervalMs);
  timer.unref?.();
  return () => {
    clearInterval(timer);
    ws.off("pong", hear);
    ws.off("message", hear);
  };
}

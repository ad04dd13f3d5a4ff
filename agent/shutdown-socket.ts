import WebSocket from "ws";

const SHUTDOWN_CLOSE_MS = 2000;

/** Closes with 1001 (going away), terminating when the other side does not answer in 2 s; resolves once closed. */
export async function closeForShutdown(ws: WebSocket | undefined): Promise<void> {
  if (!ws || ws.readyState === WebSocket.CLOSED) return;
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => ws.terminate(), SHUTDOWN_CLOSE_MS);
    ws.once("close", () => {
      clearTimeout(force);
      resolve();
    });
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws.close(1001, "agent shutting down");
  });
}

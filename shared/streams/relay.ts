import { connect, type Socket } from "node:net";
import type { Logger } from "../logger";
import type { OpenRequest } from "./frames";
import type { MuxStream } from "./mux";

export type Verdict = { ok: true } | { ok: false; message: string };

export interface RelayOptions {
  /** Which targets the acceptor connects: the agent's instance bridge, the CLI's one local port. */
  targets: { check(address: string, port: number): Verdict };
  /** Counts the stream while it is connected (the agent's idle auto-stop). */
  activity?: { opened(address: string): void; closed(address: string): void };
  connectTimeoutMs: number;
  logger: Logger;
}

/**
 * Answers one OPEN: refuses a target outside the allowed set, otherwise connects to it and
 * carries bytes both ways (FIN for FIN, so half-closes pass through); an error or reset on
 * either side tears down the other.
 */
export function relay(request: OpenRequest, stream: MuxStream, options: RelayOptions): void {
  const target = `${request.address}:${request.port}`;
  const verdict = options.targets.check(request.address, request.port);
  if (!verdict.ok) {
    options.logger.warn("stream refused: target not allowed", { target, reason: verdict.message });
    stream.refuse({ reason: "forbidden", message: verdict.message });
    return;
  }
  let connected = false;
  const socket: Socket = connect({ host: request.address, port: request.port, allowHalfOpen: true, noDelay: true });
  const timer = setTimeout(() => {
    socket.destroy();
    if (!stream.destroyed) stream.refuse({ reason: "timeout", message: `${target} did not accept within ${options.connectTimeoutMs} ms` });
  }, options.connectTimeoutMs);
  socket.once("connect", () => {
    clearTimeout(timer);
    connected = true;
    // The dialer gave up (reset) while we were connecting.
    if (stream.destroyed) {
      socket.destroy();
      return;
    }
    stream.accept();
    options.activity?.opened(request.address);
    socket.once("close", () => options.activity?.closed(request.address));
    socket.pipe(stream);
    stream.pipe(socket);
  });
  socket.on("error", (err: NodeJS.ErrnoException) => {
    clearTimeout(timer);
    if (connected) {
      stream.destroy(err);
      return;
    }
    if (stream.destroyed) return;
    const reason = err.code === "ETIMEDOUT" ? "timeout" : "refused";
    stream.refuse({ reason, message: `${target}: ${err.code ?? err.message}` });
  });
  stream.on("error", () => socket.destroy());
  stream.on("close", () => {
    clearTimeout(timer);
    if (!(stream.readableEnded && stream.writableFinished)) socket.destroy();
  });
}

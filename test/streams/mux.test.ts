/**
 * The Mux's own flow control, two Muxes joined in this process, one of whose transports takes its
 * time to send (as a websocket does when its socket is full): what the agent does under load,
 * made deterministic.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Mux, type MuxStream } from "../../shared/streams/mux";
import { until } from "../support/streams";

test("streams set aside while the transport is congested are all woken again", async () => {
  const highWaterBytes = 64 * 1024;
  let dialer: Mux;
  // The acceptor's frames leave one per turn of the event loop: its queue stays congested for a while.
  const outgoing: { frame: Buffer; done: () => void }[] = [];
  const drain = setInterval(() => {
    const next = outgoing.shift();
    if (!next) return;
    dialer.receive(next.frame);
    next.done();
  }, 0);
  const acceptor = new Mux({
    role: "acceptor",
    highWaterBytes,
    transport: { send: (frame, done) => void outgoing.push({ frame, done }) },
    onOpen: (_request, stream) => {
      stream.accept();
      // Each stream has 40 KB to send, well within its credit: only the congestion holds it back.
      stream.end(Buffer.alloc(40 * 1024, stream.id));
    },
  });
  dialer = new Mux({ role: "dialer", transport: { send: (frame, done) => setImmediate(() => (acceptor.receive(frame), done())) } });
  try {
    const streams: MuxStream[] = await Promise.all(Array.from({ length: 20 }, () => dialer.open({ address: "127.0.0.1", port: 1 })));
    const received = streams.map(() => 0);
    const ended = streams.map(() => false);
    streams.forEach((stream, i) => {
      stream.on("data", (chunk: Buffer) => (received[i]! += chunk.length));
      stream.on("end", () => (ended[i] = true));
    });
    await until(() => ended.every(Boolean), 5000, "every stream's 40 KB").catch((err: Error) => {
      throw new Error(`${err.message}; received ${received.join(", ")}`);
    });
    assert.deepEqual(received, streams.map(() => 40 * 1024));
  } finally {
    clearInterval(drain);
  }
});

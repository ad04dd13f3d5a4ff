import { Duplex } from "node:stream";
import {
  FrameError,
  FrameType,
  MAX_DATA_BYTES,
  OpenFailureSchema,
  OpenRequestSchema,
  decodeFrame,
  decodeJson,
  decodeU32,
  encodeFrame,
  encodeJson,
  encodeU32,
  type OpenFailure,
  type OpenRequest,
} from "./frames";

/** Initial receive window of each stream: what one stream may have in flight towards its reader. */
export const STREAM_WINDOW = 256 * 1024;
/**
 * The most a stream's window grows to. A window caps one stream's throughput at window / round
 * trip, and a round trip through two busy event loops is milliseconds: 256 KB held a download to a
 * fifth of a plain relay, 1 MB let it reach 0.6 of it (npm run bench -- ingress-transport).
 */
export const MAX_STREAM_WINDOW = 1024 * 1024;
/**
 * A reader that drains its whole window within this time keeps up with the sender: its window
 * doubles (to MAX_STREAM_WINDOW). A slow reader never does, so it holds only the initial window.
 */
const GROW_WITHIN_MS = 20;
const MAX_CREDIT = 0xffffffff;

/** The websocket (or anything that carries frames in order) under a Mux. */
export interface MuxTransport {
  /** Sends one frame; `done` once it has left this process or failed. */
  send(frame: Buffer, done: (err?: Error) => void): void;
}

export interface MuxOptions {
  transport: MuxTransport;
  /** Which side opens streams: the dialer's ids are odd, the acceptor's even. */
  role: "dialer" | "acceptor";
  /** This side's initial receive window per stream. */
  window?: number;
  /** What a stream's window may grow to while its reader keeps up (at least `window`). */
  maxWindow?: number;
  /** Streams stop sending while the transport holds more than this many unsent bytes. */
  highWaterBytes?: number;
  /** An OPEN from the peer: call `stream.accept()` or `stream.refuse(...)`. */
  onOpen?: (request: OpenRequest, stream: MuxStream) => void;
}

/** The acceptor's answer to an OPEN, or the stream's loss before it had one. */
export class OpenRejectedError extends Error {
  override name = "OpenRejectedError";
  constructor(
    readonly reason: OpenFailure["reason"] | "closed",
    message: string,
  ) {
    super(message);
  }
}

/** The peer aborted the stream, or the connection under it was lost. */
export class StreamResetError extends Error {
  override name = "StreamResetError";
}

/**
 * Many byte streams over one ordered frame transport, each with its own credit window so that a
 * reader who stops reading stops its own sender only: a stream sends DATA only while it holds
 * credit, and grants credit back (WINDOW) as its consumer drains what it received.
 */
export class Mux {
  private readonly streams = new Map<number, MuxStream>();
  private readonly blocked = new Set<MuxStream>();
  private nextId: number;
  private queued = 0;
  private failure: Error | undefined;
  readonly window: number;
  readonly maxWindow: number;
  private readonly highWater: number;

  constructor(private readonly options: MuxOptions) {
    this.nextId = options.role === "dialer" ? 1 : 2;
    this.window = options.window ?? STREAM_WINDOW;
    this.maxWindow = Math.max(this.window, options.maxWindow ?? MAX_STREAM_WINDOW);
    this.highWater = options.highWaterBytes ?? 1024 * 1024;
  }

  /** Streams registered (opening, open, or half-closed). */
  get size(): number {
    return this.streams.size;
  }

  /** Bytes handed to the transport that have not left the process yet. */
  get queuedBytes(): number {
    return this.queued;
  }

  get congested(): boolean {
    return this.queued > this.highWater;
  }

  /**
   * Opens a stream to `address:port` on the peer's side; resolves once the peer connected it,
   * rejects with OpenRejectedError when it refused or did not answer within `timeoutMs` (the
   * stream is then reset).
   */
  open(target: { address: string; port: number }, timeoutMs = 10_000): Promise<MuxStream> {
    if (this.failure) return Promise.reject(new OpenRejectedError("closed", this.failure.message));
    const id = this.allocateId();
    const stream = new MuxStream(this, id, 0);
    this.streams.set(id, stream);
    const opened = stream.opening(timeoutMs);
    this.send(FrameType.open, id, encodeJson({ address: target.address, port: target.port, window: this.window } satisfies OpenRequest));
    return opened;
  }

  /** One frame from the transport. Throws FrameError when the peer broke the protocol: drop the transport. */
  receive(buf: Buffer): void {
    const frame = decodeFrame(buf);
    if (frame.type === FrameType.open) {
      this.opened(frame.id, frame.payload);
      return;
    }
    const stream = this.streams.get(frame.id);
    // Frames already in flight when this side reset or finished the stream.
    if (!stream) return;
    switch (frame.type) {
      case FrameType.openOk:
        stream.accepted(decodeU32(frame.payload));
        return;
      case FrameType.openFail:
        stream.rejected(decodeJson(OpenFailureSchema, frame.payload));
        return;
      case FrameType.data:
        stream.received(frame.payload);
        return;
      case FrameType.window:
        stream.credited(decodeU32(frame.payload));
        return;
      case FrameType.fin:
        stream.peerFinished();
        return;
      case FrameType.rst:
        stream.peerReset(frame.payload.toString("utf8"));
        return;
    }
  }

  /** The transport is gone: every stream on it ends with `err`, every pending open fails. */
  close(err: Error): void {
    this.failure ??= err;
    for (const stream of [...this.streams.values()]) stream.lost(err);
    this.streams.clear();
    this.blocked.clear();
  }

  private opened(id: number, payload: Buffer): void {
    if (this.options.role !== "acceptor" || id % 2 !== 1 || this.streams.has(id)) {
      throw new FrameError(`unexpected OPEN for stream ${id}`);
    }
    let request: OpenRequest;
    try {
      request = decodeJson(OpenRequestSchema, payload);
    } catch (err) {
      this.send(FrameType.openFail, id, encodeJson({ reason: "forbidden", message: (err as Error).message.slice(0, 500) } satisfies OpenFailure));
      return;
    }
    const stream = new MuxStream(this, id, request.window);
    this.streams.set(id, stream);
    if (this.options.onOpen) this.options.onOpen(request, stream);
    else stream.refuse({ reason: "forbidden", message: "this side accepts no streams" });
  }

  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = this.nextId + 2 > MAX_CREDIT ? (this.options.role === "dialer" ? 1 : 2) : this.nextId + 2;
      if (!this.streams.has(id)) return id;
    }
  }

  /** @internal */
  send(type: FrameType, id: number, payload?: Buffer): void {
    if (this.failure) return;
    const frame = encodeFrame(type, id, payload);
    this.queued += frame.length;
    this.options.transport.send(frame, () => {
      this.queued -= frame.length;
      if (this.blocked.size > 0 && this.queued <= this.highWater / 2) this.unblock();
    });
  }

  /** @internal A stream with data to send while the transport is congested. */
  wait(stream: MuxStream): void {
    this.blocked.add(stream);
  }

  /** @internal */
  forget(stream: MuxStream): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
    this.blocked.delete(stream);
  }

  /**
   * Wakes the streams set aside, in the order they waited, until the transport is congested again:
   * those not reached stay in the set (at its front, ahead of a stream that waits again), since
   * nothing else would wake a stream that holds credit and waits for no WINDOW.
   */
  private unblock(): void {
    for (const stream of this.blocked) {
      if (this.congested) return;
      this.blocked.delete(stream);
      stream.flush();
    }
  }
}

interface PendingWrite {
  chunk: Buffer;
  offset: number;
  done: (err?: Error | null) => void;
}

/**
 * One stream of a Mux as a node Duplex: write() says false once the peer's credit and the
 * writable buffer are used up; end() half-closes (FIN); destroy() aborts both ways (RST).
 */
export class MuxStream extends Duplex {
  private sendCredit: number;
  /** Credit granted to the peer and not used yet. */
  private outstanding = 0;
  /** This stream's receive window: the mux's initial one, grown while the reader keeps up. */
  private window: number;
  /** Credit granted since `windowMark`; a whole window of it within GROW_WITHIN_MS grows the window. */
  private grantedSinceMark = 0;
  private windowMark = performance.now();
  private pending: PendingWrite | undefined;
  private finSent = false;
  private finReceived = false;
  /** Set when the peer or the transport ended the stream: nothing more is sent for it. */
  private silent = false;
  private waiter: { resolve: (s: MuxStream) => void; reject: (err: Error) => void; timer: NodeJS.Timeout } | undefined;

  /** @internal */
  constructor(
    private readonly mux: Mux,
    readonly id: number,
    credit: number,
  ) {
    super({ allowHalfOpen: true });
    this.sendCredit = credit;
    this.window = mux.window;
  }

  /** @internal The dialer's promise, settled by OPEN_OK or OPEN_FAIL. */
  opening(timeoutMs: number): Promise<MuxStream> {
    this.outstanding = this.mux.window;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        this.destroy();
        reject(new OpenRejectedError("timeout", `no answer to OPEN within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = { resolve, reject, timer };
    });
  }

  /** The acceptor connected the target: data may flow. */
  accept(): void {
    this.outstanding = this.mux.window;
    this.mux.send(FrameType.openOk, this.id, encodeU32(this.mux.window));
  }

  /** The acceptor will not connect the target. */
  refuse(failure: OpenFailure): void {
    this.mux.send(FrameType.openFail, this.id, encodeJson(failure));
    this.silent = true;
    this.mux.forget(this);
    this.destroy();
  }

  /** @internal */
  accepted(credit: number): void {
    const waiter = this.takeWaiter(`OPEN_OK`);
    this.sendCredit = credit;
    waiter.resolve(this);
  }

  /** @internal */
  rejected(failure: OpenFailure): void {
    const waiter = this.takeWaiter("OPEN_FAIL");
    this.silent = true;
    this.mux.forget(this);
    this.destroy();
    waiter.reject(new OpenRejectedError(failure.reason, failure.message));
  }

  private takeWaiter(frame: string) {
    const waiter = this.waiter;
    if (!waiter) throw new FrameError(`${frame} for stream ${this.id}, which is not opening`);
    clearTimeout(waiter.timer);
    this.waiter = undefined;
    return waiter;
  }

  /** @internal */
  received(payload: Buffer): void {
    if (this.finReceived || payload.length > this.outstanding) {
      this.destroy(new StreamResetError(this.finReceived ? "DATA after FIN" : "the peer sent more than its credit"));
      return;
    }
    this.outstanding -= payload.length;
    this.push(payload);
    this.grant();
  }

  /** @internal */
  credited(credit: number): void {
    if (this.sendCredit + credit > MAX_CREDIT) {
      this.destroy(new StreamResetError("credit overflow"));
      return;
    }
    this.sendCredit += credit;
    this.flush();
  }

  /** @internal */
  peerFinished(): void {
    if (this.waiter || this.finReceived) throw new FrameError(`unexpected FIN for stream ${this.id}`);
    this.finReceived = true;
    this.push(null);
  }

  /** @internal */
  peerReset(reason: string): void {
    this.silent = true;
    if (this.waiter) {
      this.rejected({ reason: "refused", message: reason || "reset by the peer" });
      return;
    }
    this.destroy(new StreamResetError(`stream reset by the peer${reason ? `: ${reason}` : ""}`));
  }

  /** @internal The transport is gone. */
  lost(err: Error): void {
    this.silent = true;
    if (this.waiter) {
      const waiter = this.takeWaiter("loss");
      this.destroy();
      waiter.reject(new OpenRejectedError("closed", err.message));
      return;
    }
    this.destroy(new StreamResetError(`connection lost: ${err.message}`));
  }

  /** Sends what the credit and the transport allow of the pending write. @internal */
  flush(): void {
    while (this.pending && !this.destroyed) {
      if (this.sendCredit === 0) return;
      if (this.mux.congested) {
        this.mux.wait(this);
        return;
      }
      const { chunk, offset } = this.pending;
      const n = Math.min(this.sendCredit, MAX_DATA_BYTES, chunk.length - offset);
      this.mux.send(FrameType.data, this.id, chunk.subarray(offset, offset + n));
      this.sendCredit -= n;
      this.pending.offset += n;
      if (this.pending.offset === chunk.length) {
        const { done } = this.pending;
        this.pending = undefined;
        done();
      }
    }
  }

  /** Gives the peer credit for what the reader has drained, in steps of a quarter window. */
  private grant(): void {
    if (this.destroyed || this.finReceived) return;
    let free = this.window - this.outstanding - this.readableLength;
    if (free < this.window / 4) return;
    this.grantedSinceMark += free;
    if (this.grantedSinceMark >= this.window) {
      const now = performance.now();
      if (now - this.windowMark < GROW_WITHIN_MS && this.window < this.mux.maxWindow) {
        const growth = Math.min(this.window, this.mux.maxWindow - this.window);
        this.window += growth;
        free += growth;
      }
      this.windowMark = now;
      this.grantedSinceMark = 0;
    }
    this.outstanding += free;
    this.mux.send(FrameType.window, this.id, encodeU32(free));
  }

  override _read(): void {
    this.grant();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (chunk.length === 0) {
      done();
      return;
    }
    this.pending = { chunk, offset: 0, done };
    this.flush();
  }

  override _final(done: (err?: Error | null) => void): void {
    this.finSent = true;
    this.mux.send(FrameType.fin, this.id);
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    const clean = this.finSent && this.finReceived;
    if (!this.silent && !clean) this.mux.send(FrameType.rst, this.id, Buffer.from((err?.message ?? "closed").slice(0, 200), "utf8"));
    this.silent = true;
    this.mux.forget(this);
    // A write waiting for credit is dropped with the stream (its callback would only re-raise err).
    this.pending = undefined;
    done(err);
  }
}

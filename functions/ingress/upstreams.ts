import { Agent, type ClientRequest } from "node:http";
import { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { StreamDialer, StreamTarget } from "./stream-dialer";

export interface UpstreamsOptions {
  /** How long an idle connection is kept: under the keep-alive timeout of common servers (node's is 5 s). */
  idleMs?: number;
  /** Idle connections kept per destination. */
  maxIdle?: number;
}

/**
 * node:http's Agent keeps and reuses a connection through a few Socket methods; a stream from the
 * agents has no kernel socket behind them, so they only track the idle timer. The app closing its side ends the
 * connection for good (HTTP/1.1 sends nothing after it), so it is dropped at once rather than
 * reused for a request the app would never read.
 */
function asPooledSocket(stream: Duplex): Socket {
  stream.once("end", () => stream.destroy());
  if (stream instanceof Socket) return stream;
  let timer: NodeJS.Timeout | undefined;
  const socket = Object.assign(stream, {
    timeout: 0,
    setKeepAlive: () => socket,
    setNoDelay: () => socket,
    ref: () => socket,
    unref: () => socket,
    setTimeout(ms: number, onTimeout?: () => void) {
      clearTimeout(timer);
      socket.timeout = ms;
      if (onTimeout) socket.once("timeout", onTimeout);
      if (ms > 0) timer = setTimeout(() => socket.emit("timeout"), ms).unref();
      return socket;
    },
  });
  stream.once("close", () => clearTimeout(timer));
  return socket as unknown as Socket;
}

/** The keep-alive Agent of one destination: its connections are streams from the dialer. */
class StreamAgent extends Agent {
  constructor(
    private readonly open: () => Promise<Duplex>,
    private readonly idleMs: number,
    maxIdle: number,
  ) {
    super({ keepAlive: true, maxFreeSockets: maxIdle, scheduling: "lifo" });
  }

  override createConnection(_options: unknown, done: (err: Error | null, socket?: Duplex) => void): undefined {
    this.open().then(
      (stream) => done(null, asPooledSocket(stream)),
      (err: Error) => done(err),
    );
    return undefined;
  }

  // Not the base's: setKeepAlive/unref are for kernel sockets; an idle stream only needs its timer.
  override keepSocketAlive(socket: Duplex): boolean {
    (socket as Socket).setTimeout(this.idleMs);
    return true;
  }

  override reuseSocket(socket: Duplex, req: ClientRequest): void {
    (socket as Socket).setTimeout(0);
    super.reuseSocket(socket, req);
  }

  get idle(): boolean {
    return Object.keys(this.sockets).length === 0 && Object.keys(this.freeSockets).length === 0 && Object.keys(this.requests).length === 0;
  }
}

/**
 * Keep-alive connections to containers, as a reverse proxy keeps them to its upstreams: a request
 * to an app reuses a finished exchange's stream to the same (host, address, port) instead of
 * opening a stream and a TCP connection in the container each time. Only HTTP exchanges share
 * them; websockets get a stream of their own.
 */
export class Upstreams {
  private readonly agents = new Map<string, StreamAgent>();
  private readonly idleMs: number;
  private readonly maxIdle: number;

  constructor(
    private readonly dialer: StreamDialer,
    o: UpstreamsOptions = {},
  ) {
    this.idleMs = o.idleMs ?? 4000;
    this.maxIdle = o.maxIdle ?? 128;
  }

  /** The Agent for requests to `target`. */
  agentFor(target: StreamTarget): Agent {
    const key = `${target.hostId}|${target.address}|${target.port}`;
    let agent = this.agents.get(key);
    if (!agent) {
      // After the Agent's own bookkeeping for a close or a failed dial: an agent left with nothing goes.
      const forgetIfIdle = () =>
        setImmediate(() => {
          if (created.idle && this.agents.get(key) === created) this.agents.delete(key);
        });
      const created = new StreamAgent(
        async () => {
          try {
            const stream = await this.dialer.dial(target);
            stream.once("close", forgetIfIdle);
            return stream;
          } catch (err) {
            forgetIfIdle();
            throw err;
          }
        },
        this.idleMs,
        this.maxIdle,
      );
      agent = created;
      this.agents.set(key, agent);
    }
    return agent;
  }
}

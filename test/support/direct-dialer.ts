import { connect } from "node:net";
import type { Duplex } from "node:stream";
import { DialError, type StreamDialer, type StreamTarget } from "../../functions/ingress/stream-dialer";

/**
 * A StreamDialer that connects to the target itself with node:net. This machine's control plane
 * can reach the LXD bridge (and loopback test servers), so tests of the router use it; production
 * reaches containers through their host's agent instead, whose bridge need not be routable.
 */
export class DirectDialer implements StreamDialer {
  constructor(private readonly timeoutMs = 5000) {}

  dial(target: StreamTarget): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: target.address, port: target.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new DialError("timeout", `${target.address}:${target.port} did not answer in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        resolve(socket);
      });
      socket.once("error", (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(err.code === "ECONNREFUSED" ? new DialError("refused", `${target.address}:${target.port} refused the connection`) : err);
      });
    });
  }
}

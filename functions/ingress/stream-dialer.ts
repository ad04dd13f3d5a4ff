import type { Duplex } from "node:stream";

/** Where a stream goes: a TCP port of a container, reached through the agent of the host it runs on. */
export interface StreamTarget {
  hostId: string;
  address: string;
  port: number;
}

export type DialFailure = "host_offline" | "refused" | "timeout" | "forbidden";

export class DialError extends Error {
  constructor(
    readonly reason: DialFailure,
    message: string,
  ) {
    super(message);
    this.name = "DialError";
  }
}

/** Opens TCP streams to containers; the ingress router knows nothing else about agents. */
export interface StreamDialer {
  dial(target: StreamTarget): Promise<Duplex>;
}

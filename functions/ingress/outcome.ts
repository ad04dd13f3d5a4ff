import type { IncomingMessage } from "node:http";
import type { Destination } from "./resolve";
import type { DialFailure } from "./stream-dialer";

/** What the router decided for a request that is not proxied; the app host's pages render it. */
export type Outcome =
  | { kind: "not_found"; label: string }
  | { kind: "sign_in"; label: string; path: string }
  | { kind: "unauthorized"; message: string }
  | { kind: "forbidden"; label: string }
  | { kind: "stopped"; dest: Destination }
  | { kind: "unreachable"; reason: DialFailure; dest: Destination };

/** Handed from the router to the pages app alongside the request itself. */
export const outcomes = new WeakMap<IncomingMessage, Outcome>();

/** The status of an outcome, for websocket upgrades that get no page. */
export function outcomeStatus(o: Outcome): number {
  switch (o.kind) {
    case "not_found":
      return 404;
    case "sign_in":
    case "unauthorized":
      return 401;
    case "forbidden":
      return 403;
    case "stopped":
      return 503;
    case "unreachable":
      return o.reason === "host_offline" ? 503 : 502;
  }
}

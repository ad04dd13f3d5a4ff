import type { LxdOperation } from "./types";

export interface LxdErrorDetails {
  method?: string;
  path?: string;
  /** The operation's path, when the error comes from a failed operation. */
  operationPath?: string;
  /** The failed operation as LXD last reported it (exec keeps its output log URLs here). */
  operation?: LxdOperation;
}

/** An error answered by LXD itself: an error envelope, or a failed operation. */
export class LxdError extends Error {
  constructor(
    /** LXD's error_code (an HTTP status), or 400/401 for a failed/cancelled operation. */
    readonly status: number,
    /** LXD's own text, e.g. "Instance is running". */
    readonly lxdMessage: string,
    readonly details: LxdErrorDetails = {},
  ) {
    super(`LXD: ${lxdMessage}`);
    this.name = "LxdError";
  }
}

/** No LXD daemon to talk to: no socket found, or nobody answering on it. */
export class LxdUnavailableError extends Error {
  constructor(
    readonly socketPath: string | undefined,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `LXD is not available: ${reason}. ` +
        "Run scripts/host-setup.sh as root to install and start LXD, " +
        "or set LXD_SOCKET to the unix socket of a running LXD daemon.",
      options,
    );
    this.name = "LxdUnavailableError";
  }
}

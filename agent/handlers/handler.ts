import type { CommandKind, CommandPayload, CommandResult } from "../../shared/protocol/commands";
import type { Logger } from "../../shared/logger";
import type { LxdClient } from "../lxd/client";

export interface HandlerContext<K extends CommandKind, L extends LxdClient | undefined> {
  jobId: string;
  payload: CommandPayload<K>;
  lxd: L;
  /** Reports the step being worked on; the gateway shows it as live progress. */
  progress(step: string, message: string): void;
  /** Aborted when the agent gives up on running work at shutdown. */
  signal: AbortSignal;
  logger: Logger;
}

/**
 * How a command kind is carried out. `lxd` says what happens when LXD is unavailable:
 * "required" fails at once with lxd_unavailable, "optional" runs without a client.
 */
export type Handler<K extends CommandKind> =
  | { lxd: "required"; run(ctx: HandlerContext<K, LxdClient>): Promise<CommandResult<K>> }
  | { lxd: "optional"; run(ctx: HandlerContext<K, LxdClient | undefined>): Promise<CommandResult<K>> }
  | { lxd: "none"; run(ctx: HandlerContext<K, undefined>): Promise<CommandResult<K>> };

export type Handlers = { [K in CommandKind]: Handler<K> };

/** A failure with its own error code (LxdError and LxdUnavailableError are mapped by the executor). */
export class JobError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "JobError";
  }
}

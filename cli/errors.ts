/** The exit codes of `kws`: what a script calling it may rely on. */
export const EXIT = { ok: 0, failed: 1, usage: 2, notSignedIn: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * A failure the person can act on: `message` says what went wrong, `hint` what to do next; `code`
 * is the API's error code when the control plane answered one.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.failed,
    readonly hint?: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** A command line that does not fit the command: exit 2, with where to read how it is used. */
export const usageError = (message: string, command = "") =>
  new CliError(message, EXIT.usage, `run \`kws ${command ? `${command} ` : ""}--help\` for how it is used`);

export const notSignedIn = (message = "not signed in") => new CliError(message, EXIT.notSignedIn, "run `kws login URL` (or `kws login --token` with a token on stdin)");

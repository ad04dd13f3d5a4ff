import type { Readable } from "node:stream";
import type { ApiClient } from "./api";
import type { CliConfig, ConfigStore } from "./config";
import type { Output } from "./output";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /** The value's placeholder in help (`--out FILE`). */
  value?: string;
  description: string;
}

type Values<O extends Record<string, OptionSpec>> = { [K in keyof O]?: O[K]["type"] extends "boolean" ? boolean : string };

/** What a running command gets. */
export interface CommandContext<O extends Record<string, OptionSpec> = Record<string, OptionSpec>> {
  /** The command's words: "instance deploy". */
  name: string;
  /** The positional arguments after the command's words (before a `--`). */
  args: string[];
  options: Values<O>;
  /** Everything after `--`, untouched (e.g. the command `kws ssh -- id -un` runs). */
  rest: string[];
  out: Output;
  env: NodeJS.ProcessEnv;
  stdin: Readable & { isTTY?: boolean };
  config: ConfigStore;
  /** The saved config with `KWS_URL` / `KWS_TOKEN` from the environment over it. */
  settings(): CliConfig;
  /** The API as the signed-in person; not signed in: a CliError with exit 3. */
  api(): ApiClient;
  /** Every command, for help and completion. */
  registry: readonly Command[];
}

export interface Command<O extends Record<string, OptionSpec> = any> {
  /** The words that name it: `["instance", "deploy"]`. */
  path: string[];
  summary: string;
  /** The arguments after the words, for help: `NAME [--qr] [--out FILE]`. */
  usage?: string;
  /** How many positional arguments it takes. */
  args?: { min: number; max: number };
  options?: O;
  /** Command lines with what they do, shown by --help. */
  examples: [string, string][];
  /** A number: the exit code (a command that runs another program, e.g. ssh, answers its code). */
  run(ctx: CommandContext<O>): Promise<void | number>;
}

/** A command, its options typed from their specs. */
export const command = <const O extends Record<string, OptionSpec> = {}>(c: Command<O>): Command<O> => c;

/** The options every command takes. */
export const GLOBAL_OPTIONS = {
  json: { type: "boolean", description: "print the result as JSON (errors too, on stderr)" },
  help: { type: "boolean", short: "h", description: "show how the command is used" },
} as const satisfies Record<string, OptionSpec>;

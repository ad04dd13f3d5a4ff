import type { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { ApiClient } from "./api";
import { type CliConfig, ConfigStore, configDir } from "./config";
import { CliError, EXIT, type ExitCode, notSignedIn, usageError } from "./errors";
import { commandHelp, groupHelp, topHelp } from "./help";
import { Output, type Streams } from "./output";
import { type Command, type CommandContext, GLOBAL_OPTIONS } from "./registry";

export interface Io extends Streams {
  stdin: Readable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

/** The command whose words begin the command line the longest way, and those words' count. */
function findCommand(commands: readonly Command[], words: string[]): Command | undefined {
  let best: Command | undefined;
  for (const c of commands) {
    if (c.path.every((w, i) => words[i] === w) && c.path.length > (best?.path.length ?? 0)) best = c;
  }
  return best;
}

/** Removes the first occurrence of each of `words` from `argv` (the command's own words, wherever options sit between them). */
function withoutWords(argv: string[], words: string[]): string[] {
  const left = [...argv];
  for (const w of words) left.splice(left.indexOf(w), 1);
  return left;
}

/**
 * Runs one command line: finds the command, parses its options, runs it; answers the exit code.
 * Every failure is reported here, once, as text (and as JSON on stderr with --json).
 */
export async function dispatch(argv: string[], commands: readonly Command[], io: Io): Promise<ExitCode | number> {
  const split = argv.indexOf("--");
  const before = split < 0 ? argv : argv.slice(0, split);
  const rest = split < 0 ? [] : argv.slice(split + 1);
  const json = before.includes("--json");
  const out = new Output(json, io);
  // Global options are flags, so every word that is not an option names the command.
  const words = before.filter((a) => !a.startsWith("-"));
  const found = findCommand(commands, words);
  const wantsHelp = before.includes("--help") || before.includes("-h");
  try {
    if (!found) {
      if (words.length === 0 && (wantsHelp || before.length === 0)) return printHelp(out, topHelp(commands));
      // The words begin commands without naming one (`kws pg users`): those commands.
      const group = commands.filter((c) => words.every((w, i) => c.path[i] === w));
      if (words.length > 0 && group.length > 0) return printHelp(out, groupHelp(words.join(" "), group), wantsHelp ? EXIT.ok : EXIT.usage);
      const known = commands.some((c) => c.path[0] === words[0]) ? words[0] : "";
      throw usageError(words.length ? `unknown command: ${words.join(" ")}` : `unknown option: ${before.join(" ")}`, known);
    }
    if (wantsHelp) return printHelp(out, commandHelp(found));
    const ctx = contextFor(found, withoutWords(before, found.path), rest, out, io, commands);
    return (await found.run(ctx)) ?? EXIT.ok;
  } catch (err) {
    return report(out, err);
  }
}

function printHelp(out: Output, text: string, code: ExitCode = EXIT.ok): ExitCode {
  (code === EXIT.ok ? out.say.bind(out) : out.warn.bind(out))(text);
  return code;
}

function contextFor(c: Command, argv: string[], rest: string[], out: Output, io: Io, registry: readonly Command[]): CommandContext {
  const usage = c.path.join(" ");
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...c.options, ...GLOBAL_OPTIONS }, allowPositionals: true, strict: true });
  } catch (err) {
    throw usageError((err as Error).message.replace(/\. To specify a positional.*$/s, ""), usage);
  }
  const { min, max } = c.args ?? { min: 0, max: 0 };
  const n = parsed.positionals.length;
  if (n < min) throw usageError(`missing argument: kws ${usage} ${c.usage ?? ""}`.trimEnd(), usage);
  if (n > max) throw usageError(`unexpected argument: ${parsed.positionals.slice(max).join(" ")}`, usage);
  const config = new ConfigStore(configDir(io.env));
  const settings = (): CliConfig => {
    const saved = config.read();
    return { ...saved, ...(io.env.KWS_URL ? { url: io.env.KWS_URL } : {}), ...(io.env.KWS_TOKEN ? { token: io.env.KWS_TOKEN, tokenId: undefined } : {}) };
  };
  return {
    name: usage,
    args: parsed.positionals,
    options: parsed.values as CommandContext["options"],
    rest,
    out,
    env: io.env,
    stdin: io.stdin,
    config,
    settings,
    api: () => {
      const { url, token } = settings();
      if (!url || !token) throw notSignedIn();
      return new ApiClient(url, token);
    },
    registry,
  };
}

function report(out: Output, err: unknown): ExitCode {
  const failure = err instanceof CliError ? err : new CliError(err instanceof Error ? err.message : String(err));
  if (out.json) out.warn(JSON.stringify({ error: { message: failure.message, code: failure.code, hint: failure.hint, exitCode: failure.exitCode } }));
  else out.warn(`kws: ${failure.message}${failure.hint ? `\n${failure.hint}` : ""}`);
  return failure.exitCode;
}

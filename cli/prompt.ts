import { createInterface } from "node:readline/promises";
import { CliError, usageError } from "./errors";
import type { CommandContext } from "./registry";

/**
 * Asks before something that cannot be undone: `--yes` answers for a script; without a terminal to
 * ask on, the command refuses (exit 2) rather than guess.
 */
export async function confirm(ctx: CommandContext<{ yes: { type: "boolean"; description: string } }>, question: string): Promise<void> {
  if (ctx.options.yes) return;
  if (!ctx.stdin.isTTY) throw usageError(`${question} Pass --yes to confirm without a terminal.`, ctx.name);
  const rl = createInterface({ input: ctx.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new CliError("cancelled", 1);
  } finally {
    rl.close();
  }
}

/** The `--yes` option of a command that asks first. */
export const YES = { yes: { type: "boolean", short: "y", description: "do not ask for confirmation" } } as const;

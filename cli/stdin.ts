import type { Readable } from "node:stream";
import { usageError } from "./errors";
import type { CommandContext } from "./registry";

/** All of stdin as text (a token piped in, a password): up to EOF, or the first line on a terminal. */
export async function readStdin(stdin: Readable & { isTTY?: boolean }): Promise<string> {
  let text = "";
  for await (const chunk of stdin) {
    text += String(chunk);
    if (stdin.isTTY && text.includes("\n")) break;
  }
  if (stdin.isTTY) stdin.pause();
  return text;
}

/** A password piped in (`--password-stdin`): stdin less its final newline; empty is a usage error. */
export async function passwordFromStdin(ctx: CommandContext): Promise<string> {
  const password = (await readStdin(ctx.stdin)).replace(/\r?\n$/, "");
  if (!password) throw usageError("no password on stdin", ctx.name);
  return password;
}

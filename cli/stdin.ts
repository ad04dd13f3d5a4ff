import type { Readable } from "node:stream";

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

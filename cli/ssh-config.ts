import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

const START = "# --- START KWS (managed by `kws config-ssh`; `kws config-ssh --remove` takes it out) ---";
const END = "# --- END KWS ---";

/** An ssh_config value: quoted when it has a space (paths), except ProxyCommand, which is a shell line. */
const value = (key: string, v: string) => (key !== "ProxyCommand" && /\s/.test(v) ? `"${v}"` : v);

/** The marked block for `Host <host>` with `settings`. */
export function kwsBlock(host: string, settings: [string, string][]): string {
  return [START, `Host ${host}`, ...settings.map(([k, v]) => `  ${k} ${value(k, v)}`), END].join("\n");
}

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw err;
  }
}

/** `text` without its KWS block (and the blank line before it), and where the block stood (-1: none). */
function withoutBlock(text: string): { text: string; at: number } {
  const start = text.indexOf(START);
  if (start < 0) return { text, at: -1 };
  const end = text.indexOf(END, start);
  const after = end < 0 ? text.length : end + END.length + (text[end + END.length] === "\n" ? 1 : 0);
  return { text: text.slice(0, start) + text.slice(after), at: start };
}

/**
 * Writes `block` into the ssh config at `path` in place of an earlier one (where it stood), else
 * at the end, leaving every other line alone; `null` removes it. Answers whether the file changed.
 */
export function writeKwsBlock(path: string, block: string | null): boolean {
  const before = read(path);
  const { text, at } = withoutBlock(before);
  let next = text;
  if (block !== null) {
    const where = at < 0 ? text.length : at;
    const head = text.slice(0, where);
    const separator = head.length === 0 || head.endsWith("\n\n") ? "" : head.endsWith("\n") ? "\n" : "\n\n";
    next = `${head}${separator}${block}\n${text.slice(where)}`;
  } else {
    next = text.replace(/\n\n$/, "\n");
  }
  if (next === before) return false;
  // A config kept elsewhere and linked here (dotfiles) is written where it lives.
  const target = existsSync(path) ? realpathSync(path) : path;
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  const temporary = `${target}.kws-${process.pid}.tmp`;
  writeFileSync(temporary, next, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, target);
  return true;
}

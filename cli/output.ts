import type { Writable } from "node:stream";

export interface Streams {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean };
}

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** A step display: one line per step; on a terminal the current one spins until the next comes. */
export interface Progress {
  step(message: string): void;
  /** The last step ends well (`ok`) or not. */
  end(ok: boolean, message?: string): void;
}

/**
 * What a command prints. `--json`: exactly one JSON document on stdout (the result), nothing else
 * there. Otherwise human lines, with a live step display when stdout is a terminal.
 */
export class Output {
  constructor(
    readonly json: boolean,
    private readonly io: Streams,
  ) {}

  /** Whether a person watches: a live display is worth drawing. */
  get live(): boolean {
    return !this.json && Boolean(this.io.stdout.isTTY);
  }

  /** The command's result: `value` as JSON with --json, else the lines `human` makes of it. */
  result<T>(value: T, human: (value: T) => string | string[]): void {
    if (this.json) this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else for (const line of [human(value)].flat()) this.io.stdout.write(`${line}\n`);
  }

  /** A message for the person (instructions, what happened): stdout, or stderr with --json. */
  say(text: string): void {
    (this.json ? this.io.stderr : this.io.stdout).write(`${text}\n`);
  }

  /** A warning or an error: always stderr. */
  warn(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  /** Rows as aligned columns under `head`; `empty` when there are none. */
  table(head: string[], rows: string[][], empty: string): string[] {
    if (rows.length === 0) return [empty];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
    return [line(head.map((h) => h.toUpperCase())), ...rows.map(line)];
  }

  progress(): Progress {
    if (this.json) return { step() {}, end() {} };
    const out = this.io.stdout;
    if (!this.live) {
      return {
        step: (message) => out.write(`${message}\n`),
        end: (ok, message) => message && out.write(`${ok ? "done" : "failed"}: ${message}\n`),
      };
    }
    let current: string | undefined;
    let since = Date.now();
    let frame = 0;
    const draw = () => current !== undefined && out.write(`\r\x1b[2K${SPINNER[frame++ % SPINNER.length]} ${current} (${Math.round((Date.now() - since) / 1000)}s)`);
    const finish = (mark: string) => current !== undefined && out.write(`\r\x1b[2K${mark} ${current}\n`);
    const timer = setInterval(draw, 100);
    timer.unref();
    return {
      step(message) {
        finish("✓");
        current = message;
        since = Date.now();
        draw();
      },
      end(ok, message) {
        clearInterval(timer);
        finish(ok ? "✓" : "✗");
        current = undefined;
        if (message) out.write(`${ok ? "✓" : "✗"} ${message}\n`);
      },
    };
  }
}

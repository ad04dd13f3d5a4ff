import { type Command, GLOBAL_OPTIONS, type OptionSpec } from "./registry";

const name = (c: Command) => `kws ${c.path.join(" ")}`;

function optionLines(options: Record<string, OptionSpec>): string[] {
  const entries = Object.entries(options).map(([key, o]) => [`${o.short ? `-${o.short}, ` : ""}--${key}${o.value ? ` ${o.value}` : ""}`, o.description] as const);
  const width = Math.max(...entries.map(([flag]) => flag.length));
  return entries.map(([flag, description]) => `  ${flag.padEnd(width)}  ${description}`);
}

function commandList(commands: readonly Command[]): string[] {
  const entries = commands.map((c) => [`${c.path.join(" ")}${c.usage ? ` ${c.usage}` : ""}`, c.summary] as const);
  const width = Math.min(44, Math.max(...entries.map(([u]) => u.length)));
  return entries.map(([u, summary]) => (u.length > width ? `  ${u}\n  ${" ".repeat(width)}  ${summary}` : `  ${u.padEnd(width)}  ${summary}`));
}

/** `kws COMMAND --help`: usage, options, examples. */
export function commandHelp(c: Command): string {
  return [
    `Usage: ${name(c)}${c.usage ? ` ${c.usage}` : ""}`,
    "",
    c.summary,
    "",
    "Options:",
    ...optionLines({ ...c.options, ...GLOBAL_OPTIONS }),
    "",
    "Examples:",
    ...c.examples.flatMap(([line, what]) => [`  # ${what}`, `  ${line}`]),
  ].join("\n");
}

/** `kws GROUP --help`: the group's commands. */
export function groupHelp(group: string, commands: readonly Command[]): string {
  return [`Usage: kws ${group} COMMAND [options]`, "", "Commands:", ...commandList(commands), "", `Run \`kws ${group} COMMAND --help\` for a command's options and examples.`].join("\n");
}

/** `kws --help`: every command. */
export function topHelp(commands: readonly Command[]): string {
  return [
    "kws: the command line of KWS, your self-hosted developer cloud",
    "",
    "Usage: kws COMMAND [options]",
    "",
    "Commands:",
    ...commandList(commands),
    "",
    "Every command takes --json (machine-readable output) and --help (options and examples).",
    "Exit codes: 0 ok, 1 failed, 2 wrong usage, 3 not signed in.",
    "Environment: KWS_CONFIG_DIR (where config.json is; default ~/.config/kws), KWS_URL and KWS_TOKEN",
    "(a control plane and API token that win over the saved ones).",
    "",
    "Start with: kws login https://kws.example.org",
  ].join("\n");
}

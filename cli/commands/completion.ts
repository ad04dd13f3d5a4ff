import { usageError } from "../errors";
import { type Command, command, GLOBAL_OPTIONS } from "../registry";

/**
 * What to offer after each known prefix of words: "" → the first words; a group → its commands; a
 * command → its options. Both shells' scripts are this table and a few lines walking it.
 */
function completionTable(commands: readonly Command[]): Map<string, string[]> {
  const table = new Map<string, Set<string>>();
  const add = (key: string, word: string) => (table.get(key) ?? table.set(key, new Set()).get(key)!).add(word);
  for (const c of commands) {
    c.path.forEach((word, i) => add(c.path.slice(0, i).join(" "), word));
    for (const option of Object.keys({ ...c.options, ...GLOBAL_OPTIONS })) add(c.path.join(" "), `--${option}`);
  }
  return new Map([...table].map(([key, words]) => [key, [...words]]));
}

const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

function bashScript(table: Map<string, string[]>): string {
  const cases = [...table].map(([key, words]) => `    ${quote(key)}) words=${quote(words.join(" "))} ;;`);
  return `# kws completion for bash: eval "$(kws completion bash)" (e.g. in ~/.bashrc)
_kws_words() {
  case "$1" in
${cases.join("\n")}
    *) return 1 ;;
  esac
  printf '%s' "$words"
}
_kws() {
  local cur=\${COMP_WORDS[COMP_CWORD]} key="" candidate w i
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    [[ $w == -* ]] && continue
    candidate=\${key:+$key }$w
    _kws_words "$candidate" >/dev/null || break
    key=$candidate
  done
  COMPREPLY=($(compgen -W "$(_kws_words "$key")" -- "$cur"))
}
complete -o default -F _kws kws
`;
}

function zshScript(table: Map<string, string[]>): string {
  const entries = [...table].map(([key, words]) => `  ${quote(key || "-")} ${quote(words.join(" "))}`);
  return `#compdef kws
# kws completion for zsh: eval "$(kws completion zsh)" (e.g. in ~/.zshrc, after compinit)
typeset -gA _kws_table
_kws_table=(
${entries.join("\n")}
)
_kws() {
  local key="" candidate w
  for w in \${words[2,CURRENT-1]}; do
    [[ $w == -* ]] && continue
    candidate=\${key:+$key }$w
    (( \${+_kws_table[$candidate]} )) || break
    key=$candidate
  done
  compadd -- \${=_kws_table[\${key:--}]}
}
compdef _kws kws
`;
}

export const completionCommands = [
  command({
    path: ["completion"],
    summary: "Print the shell completion script for bash or zsh",
    usage: "bash|zsh",
    args: { min: 1, max: 1 },
    examples: [
      ['eval "$(kws completion bash)"', "complete kws commands in this bash (add the line to ~/.bashrc to keep it)"],
      ['eval "$(kws completion zsh)"', "the same in zsh (after compinit)"],
    ],
    async run({ args, out, registry }) {
      const shell = args[0];
      if (shell !== "bash" && shell !== "zsh") throw usageError(`no completion for ${shell}: bash or zsh`, "completion");
      const table = completionTable(registry);
      const script = shell === "bash" ? bashScript(table) : zshScript(table);
      out.result({ shell, script }, () => script.trimEnd());
    },
  }),
];

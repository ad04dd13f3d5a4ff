import { spawn } from "node:child_process";
import { constants, homedir } from "node:os";
import { join } from "node:path";
import { CliError, notSignedIn } from "../errors";
import { type CommandContext, command } from "../registry";
import { kwsBlock, writeKwsBlock } from "../ssh-config";
import { bridgeStdio, ensureKeyPair, ensureRunning, installKey, instanceLabel, proxyCommand, sshSettings } from "../ssh";

/** The Host name of the config-ssh block and of `kws ssh`'s own connection. */
const SSH_HOST = "kws";

const noStartOption = { type: "boolean", description: "fail when the instance is stopped instead of starting it" } as const;

/** The instance running, the CLI's key in it: what `ssh` needs, as settings for the instance. */
async function prepare(ctx: CommandContext, o: { noStart: boolean; start: boolean }) {
  const api = ctx.api();
  const say = (line: string) => ctx.out.warn(line);
  const { privateKey, publicKey } = ensureKeyPair(ctx.config.dir);
  const instance = o.start ? (await ensureRunning(api, { noStart: o.noStart, say })).instance : await api.call("GET", "/instance");
  if (instance.state === "none" || !instance.username) throw new CliError("you have no instance", 1, "deploy one first: kws instance deploy");
  await installKey(api, publicKey, say);
  const settings = sshSettings({
    configDir: ctx.config.dir,
    privateKey,
    user: instance.username,
    label: instanceLabel(instance),
    proxyCommand: proxyCommand(ctx.env, o.noStart ? ["--no-start"] : []),
  });
  return { instance, settings };
}

export const sshCommands = [
  command({
    path: ["ssh"],
    summary: "An SSH session in your instance, through KWS (no WireGuard needed); starts it when stopped",
    usage: "[--no-start] [--stdio] [-- COMMAND...]",
    options: {
      stdio: { type: "boolean", description: "carry SSH's bytes on stdin/stdout (a ProxyCommand, as `kws config-ssh` writes)" },
      "no-start": noStartOption,
    },
    examples: [
      ["kws ssh", "open a shell in your instance"],
      ["kws ssh -- id -un", "run one command there"],
      ["ssh -o ProxyCommand='kws ssh --stdio' ada@kws", "use your own ssh (or `kws config-ssh`, then `ssh kws`)"],
    ],
    async run(ctx) {
      const noStart = ctx.options["no-start"] === true;
      if (ctx.options.stdio) {
        const { url, token } = ctx.settings();
        if (!url || !token) throw notSignedIn();
        // stdout carries SSH's bytes: everything for the person goes to stderr.
        const { started } = await ensureRunning(ctx.api(), { noStart, say: (line) => ctx.out.warn(`kws: ${line}`) });
        // A started instance may be a fresh one: its key goes in before ssh tries it.
        if (started) await installKey(ctx.api(), ensureKeyPair(ctx.config.dir).publicKey, (line) => ctx.out.warn(`kws: ${line}`));
        await bridgeStdio({ baseUrl: url, token }, process.stdin, process.stdout);
        return;
      }
      const { settings } = await prepare(ctx, { noStart, start: true });
      const args = [...settings.flatMap(([k, v]) => ["-o", `${k}=${v}`]), SSH_HOST, ...ctx.rest];
      const child = spawn("ssh", args, { stdio: "inherit" });
      return new Promise<number>((resolve, reject) => {
        child.once("error", (err) => reject(new CliError(`cannot run ssh: ${err.message}`, 1, "install OpenSSH's client (the ssh command)")));
        child.once("exit", (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
      });
    },
  }),
  command({
    path: ["config-ssh"],
    summary: "Add (or update) a `Host kws` block in ~/.ssh/config, so ssh kws, scp and VS Code Remote-SSH work",
    usage: "[--remove] [--ssh-config FILE]",
    options: {
      remove: { type: "boolean", description: "take the block out again" },
      "ssh-config": { type: "string", value: "FILE", description: "the ssh config to change (default ~/.ssh/config)" },
      "no-start": { type: "boolean", description: "make `ssh kws` fail on a stopped instance instead of starting it" },
    },
    examples: [
      ["kws config-ssh", "then: ssh kws, scp file.txt kws:, or Remote-SSH to the host kws in VS Code"],
      ["kws config-ssh --remove", "remove the block"],
    ],
    async run(ctx) {
      const path = ctx.options["ssh-config"] ?? join(homedir(), ".ssh", "config");
      if (ctx.options.remove) {
        const changed = writeKwsBlock(path, null);
        ctx.out.result({ path, removed: changed }, () => (changed ? `Removed the kws block from ${path}.` : `${path} has no kws block.`));
        return;
      }
      const { settings } = await prepare(ctx, { noStart: ctx.options["no-start"] === true, start: false });
      const changed = writeKwsBlock(path, kwsBlock(SSH_HOST, settings));
      ctx.out.result({ path, host: SSH_HOST, changed }, () => [
        `${changed ? "Wrote" : "Kept"} the \`Host ${SSH_HOST}\` block in ${path}.`,
        `Now: ssh ${SSH_HOST}, scp FILE ${SSH_HOST}:, or connect VS Code's Remote-SSH to ${SSH_HOST}.`,
      ]);
    },
  }),
];

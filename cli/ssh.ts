import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createWebSocketStream } from "ws";
import { SSH_PATH } from "../shared/protocol/cli-streams";
import type { ApiClient } from "./api";
import { CliError } from "./errors";
import { waitForJob } from "./jobs";
import { openWebSocket, WebSocketRefused } from "./websocket";

type InstanceJson = Awaited<ReturnType<typeof readInstance>>;

const readInstance = (api: ApiClient) => api.call("GET", "/instance");

/** The instance's IDE label: its one stable name (`ada` of `https://ada.kws.app/`). */
export const instanceLabel = (instance: InstanceJson) => new URL(instance.urls!.ide).hostname.split(".")[0]!;

/**
 * The person's instance once it runs: an open job is waited for, a stopped instance started
 * through the normal start job (unless `noStart`). `say` gets what happens (stderr: stdout may
 * carry SSH's bytes). Answers whether it had to be started.
 */
export async function ensureRunning(api: ApiClient, o: { noStart: boolean; say: (line: string) => void }): Promise<{ instance: InstanceJson; started: boolean }> {
  let started = false;
  for (;;) {
    const instance = await readInstance(api);
    if (instance.job && (instance.job.status === "queued" || instance.job.status === "running")) {
      o.say(`waiting for your instance's ${instance.job.kind} job…`);
      await waitForJob(api, instance.job.id, o.say);
      continue;
    }
    switch (instance.state) {
      case "running":
        return { instance, started };
      case "none":
        throw new CliError("you have no instance", 1, "deploy one first: kws instance deploy");
      case "failed":
      case "provisioning":
        throw new CliError(`your instance is ${instance.state}`, 1, "deploy it again (kws instance deploy), or kill it");
      case "stopped": {
        if (o.noStart) throw new CliError("your instance is stopped (--no-start)", 1, "start it: kws instance start, or run without --no-start");
        o.say("starting your instance…");
        const { job } = await api.call("POST", "/instance/start");
        await waitForJob(api, job.id, o.say);
        started = true;
      }
    }
  }
}

/** The CLI's own key pair (`<config dir>/id_ed25519`), made with ssh-keygen the first time. */
export function ensureKeyPair(configDir: string): { privateKey: string; publicKey: string } {
  const privateKey = join(configDir, "id_ed25519");
  if (!existsSync(privateKey)) {
    mkdirSync(configDir, { recursive: true, mode: 0o700 });
    const made = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `kws@${hostname()}`, "-f", privateKey], { encoding: "utf8" });
    if (made.error || made.status !== 0) {
      throw new CliError(`ssh-keygen could not make ${privateKey}: ${made.error?.message ?? made.stderr.trim()}`, 1, "install OpenSSH's client (ssh, ssh-keygen)");
    }
  }
  return { privateKey, publicKey: readFileSync(`${privateKey}.pub`, "utf8").trim() };
}

/** Registers the CLI's public key and waits until it is in the running instance's authorized_keys. */
export async function installKey(api: ApiClient, publicKey: string, say: (line: string) => void): Promise<void> {
  const { job } = await api.call("POST", "/ssh-keys", { name: `kws cli on ${hostname()}`.slice(0, 64), publicKey });
  if (!job) return;
  const done = await waitForJob(api, job.id, () => {});
  const result = done.result as { exitCode?: number; stderr?: string } | undefined;
  if (result?.exitCode !== 0) throw new CliError(`installing your SSH key in the instance failed: ${result?.stderr?.trim() || "no reason given"}`);
  say("your SSH key is installed in the instance");
}

/**
 * `kws ssh --stdio`: stdin and stdout become a TCP connection to port 22 of the instance, through
 * the control plane's websocket. Resolves when either side ends.
 */
export async function bridgeStdio(api: { baseUrl: string; token: string }, stdin: NodeJS.ReadableStream, stdout: NodeJS.WritableStream): Promise<void> {
  let opened;
  try {
    opened = await openWebSocket(api.baseUrl, SSH_PATH, api.token);
  } catch (err) {
    if (err instanceof WebSocketRefused) throw err.error;
    throw new CliError(`cannot reach ${api.baseUrl}: ${(err as Error).message}`);
  }
  const stream = createWebSocketStream(opened.ws);
  const down = pipeline(stream, stdout).catch(() => {});
  stdin.pipe(stream);
  await down;
}

/** Quotes a word for /bin/sh (ssh runs ProxyCommand with the shell). */
const shellWord = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`);

/**
 * The command that runs this very CLI again (node, its flags such as tsx's loader, the entry), so
 * ProxyCommand works whether `kws` is on PATH or not; KWS_CONFIG_DIR goes along when set.
 */
export function proxyCommand(env: NodeJS.ProcessEnv, extra: string[] = []): string {
  const self = [process.execPath, ...process.execArgv, process.argv[1]!, "ssh", "--stdio", ...extra].map(shellWord).join(" ");
  return env.KWS_CONFIG_DIR ? `env KWS_CONFIG_DIR=${shellWord(env.KWS_CONFIG_DIR)} ${self}` : self;
}

/** What `ssh` needs to reach the instance through kws: as `-o` options and as an ssh_config block's lines. */
export function sshSettings(o: { configDir: string; privateKey: string; user: string; label: string; proxyCommand: string }): [string, string][] {
  return [
    ["User", o.user],
    ["IdentityFile", o.privateKey],
    ["IdentitiesOnly", "yes"],
    // The instance's host keys in a file of kws's own, under a name of the instance (not "kws"):
    // another instance (after a kill and deploy) is asked about anew, not taken for an attack.
    ["UserKnownHostsFile", join(o.configDir, "known_hosts")],
    ["StrictHostKeyChecking", "accept-new"],
    ["HostKeyAlias", `kws-${o.label}`],
    ["ProxyCommand", o.proxyCommand],
  ];
}

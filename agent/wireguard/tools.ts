import { execFile } from "node:child_process";
import { agentErrorCodes } from "../../shared/protocol/commands";
import { JobError } from "../handlers/handler";

const INSTALL_FIX = "apt-get install -y wireguard-tools wireguard-go nftables (or sudo scripts/host-setup.sh)";

export interface RunToolOptions {
  /** Fed to the tool's stdin (nft -f -). */
  input?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/**
 * Runs wg, ip, nft or wireguard-go with an argv array (never a shell) and returns stdout.
 * Failures become a JobError naming the tool and its stderr, so a command's result says what broke.
 */
export function runTool(file: string, args: readonly string[], options: RunToolOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { ...(options.env ? { env: options.env } : {}), timeout: options.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        // Only the first arguments: a batched `wg set` carries thousands of them.
        const what = [file, ...args.slice(0, 3)].join(" ");
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
          return reject(new JobError(agentErrorCodes.wireguard, `${file} is not installed: ${INSTALL_FIX}`));
        }
        // wireguard-go reports on stdout, under a banner on stderr: keep the lines that say something.
        const said = `${stderr}\n${stdout}`.split("\n").filter((line) => line.trim() && !/^[│┌└]/.test(line));
        const detail = said.join("; ") || err.message;
        reject(new JobError(agentErrorCodes.wireguard, `${what}${args.length > 3 ? " …" : ""} failed: ${detail.slice(0, 1000)}`));
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { CliError } from "./errors";

/** What `kws login` keeps: the control plane and the API token it issued (with its id, to revoke it). */
export interface CliConfig {
  url?: string;
  token?: string;
  tokenId?: string;
}

/** `$KWS_CONFIG_DIR`, else `$XDG_CONFIG_HOME/kws`, else `~/.config/kws`. */
export function configDir(env: NodeJS.ProcessEnv): string {
  if (env.KWS_CONFIG_DIR) return env.KWS_CONFIG_DIR;
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "kws");
}

/** The config file: read as a whole, written whole (0600, in a 0700 folder, by rename: never half written). */
export class ConfigStore {
  readonly path: string;

  constructor(readonly dir: string) {
    this.path = join(dir, "config.json");
  }

  read(): CliConfig {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
      throw err;
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as CliConfig;
    } catch {
      // reported below
    }
    throw new CliError(`${this.path} is not a JSON object`, 1, "fix it by hand, or delete it and run `kws login` again");
  }

  write(config: CliConfig): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    // A file left from an older version may have a wider mode: the rename replaces it with this one.
    chmodSync(temporary, 0o600);
    renameSync(temporary, this.path);
  }

  clear(): void {
    rmSync(this.path, { force: true });
  }
}

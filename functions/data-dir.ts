import { chmod, lstat, mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";

/**
 * The embedded state directory ($KWS_DATA_DIR: PGlite's files, the secret key, the local agent's
 * credential) is its user's alone. Created 0700; an existing one is tightened, and nothing under it
 * keeps group or other bits. PGlite sets 0666 on the files it unpacks whatever the umask, so this
 * runs after the database is open too. Symbolic links are not followed. Answers how many entries
 * had to be tightened.
 */
export async function tightenDataDir(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return tighten(dir);
}

async function tighten(path: string): Promise<number> {
  const stat = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    // Removed meanwhile (PGlite rotates its files): nothing to tighten.
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (!stat || stat.isSymbolicLink()) return 0;
  let tightened = 0;
  if (stat.mode & 0o077) {
    await chmod(path, stat.mode & 0o700);
    tightened++;
  }
  if (stat.isDirectory()) {
    for (const entry of await readdir(path).catch(() => [])) tightened += await tighten(join(path, entry));
  }
  return tightened;
}

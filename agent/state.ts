import { chmod, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";

export const CredentialSchema = z.object({
  hostId: z.uuid(),
  hostName: z.string().min(1),
  credential: z.string().min(1),
  gatewayUrl: z.url({ protocol: /^https?$/ }),
});
export type Credential = z.infer<typeof CredentialSchema>;

export interface StateDirOptions {
  dir: string;
}

/** The agent's private directory: the host credential and the job journal. */
export class StateDir {
  readonly dir: string;

  constructor(options: StateDirOptions) {
    this.dir = options.dir;
  }

  get credentialPath(): string {
    return join(this.dir, "credential.json");
  }

  get journalPath(): string {
    return join(this.dir, "journal.jsonl");
  }

  /** Creates the directory if needed; an existing one is tightened to 0700 too. */
  async ensure(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await chmod(this.dir, 0o700);
    } catch (err) {
      throw new Error(`cannot use state directory ${this.dir}: ${(err as Error).message} (choose another with --state-dir)`, {
        cause: err,
      });
    }
  }

  /** undefined when this host has not enrolled yet; throws when the file exists but is unreadable. */
  async loadCredential(): Promise<Credential | undefined> {
    const read = await readJsonFile(this.credentialPath, CredentialSchema);
    if (read && !read.ok) throw new Error(`${this.credentialPath} is damaged: delete it and enroll again with --enroll TOKEN`);
    return read?.value;
  }

  async saveCredential(credential: Credential): Promise<void> {
    await this.ensure();
    await writeFileAtomic(this.credentialPath, `${JSON.stringify(CredentialSchema.parse(credential), null, 2)}\n`, 0o600);
  }
}

/**
 * A JSON file checked against `schema`: undefined when it does not exist, `ok: false` with the
 * first problem when it is not JSON or not of that shape. Other read errors throw, naming the file.
 */
export async function readJsonFile<T>(
  path: string,
  schema: z.ZodType<T>,
): Promise<{ ok: true; value: T } | { ok: false; value?: undefined; problem: string } | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, problem: "not JSON" };
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, problem: parsed.error.issues[0]?.message ?? "invalid" };
}

/**
 * Replaces `path` so that a crash leaves either the old or the new content, never a mix:
 * write a temporary file, fsync it, rename it over, fsync the directory.
 */
export async function writeFileAtomic(path: string, content: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now().toString(36)}.tmp`;
  try {
    const file = await open(tmp, "wx", mode);
    try {
      await file.writeFile(content, "utf8");
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDirectory(dirname(path));
}

/** Makes a rename or a new file's directory entry durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

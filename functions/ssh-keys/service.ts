import type { Job, SshKey } from "../../shared/db/schema";
import { uniqueViolation } from "../../shared/db/errors";
import { configured } from "../configured";
import { AppError } from "../core/errors";
import { submitJob } from "../core/jobs/submit";
import { lockUser } from "../core/locks";
import { instanceOfUser } from "../instances/queries";
import type { Services } from "../services";
import { countKeys, deleteKey, insertKey, keyByFingerprint, keysOfUser } from "./queries";
import { MAX_SSH_KEYS, parsePublicKey } from "./schemas";

/** The marker ending each line KWS writes: the person's own lines in authorized_keys stay as they are. */
const KWS_MARK = "kws-managed";

/**
 * Replaces the KWS lines of the user's authorized_keys with $KWS_KEYS (one key a line), keeping
 * the others; the values arrive as environment variables, the script is a constant.
 */
const INSTALL_KEYS = [
  "set -e",
  'home=$(getent passwd "$KWS_USER" | cut -d: -f6)',
  'test -n "$home" || { echo "no user $KWS_USER in the instance" >&2; exit 1; }',
  'group=$(id -gn "$KWS_USER")',
  'install -d -m 0700 -o "$KWS_USER" -g "$group" "$home/.ssh"',
  'file="$home/.ssh/authorized_keys"',
  'touch "$file"',
  `{ grep -v ' ${KWS_MARK}$' "$file" || true; printf '%s\\n' "$KWS_KEYS" | sed '/^$/d; s/$/ ${KWS_MARK}/'; } > "$file.kws"`,
  'chown "$KWS_USER:$group" "$file.kws"',
  'chmod 0600 "$file.kws"',
  'mv "$file.kws" "$file"',
].join("\n");

export function listSshKeys(s: Services, userId: string): Promise<SshKey[]> {
  return keysOfUser(s.db, userId);
}

/**
 * Adds a key (the same key again answers the one already there, so a CLI may send it on every
 * run) and installs the person's keys in their instance when it runs.
 */
export async function addSshKey(s: Services, userId: string, body: { name: string; publicKey: string }): Promise<{ key: SshKey; created: boolean; job: Job | null }> {
  const { publicKey, fingerprint } = parsePublicKey(body.publicKey)!;
  let added: { key: SshKey; created: boolean };
  try {
    added = await s.db.transaction(async (tx) => {
      await lockUser(tx, userId);
      const existing = await keyByFingerprint(tx, userId, fingerprint);
      if (existing) return { key: existing, created: false };
      if ((await countKeys(tx, userId)) >= MAX_SSH_KEYS) throw new AppError("limit", `you have ${MAX_SSH_KEYS} SSH keys, the most allowed; remove one first`);
      return { key: await insertKey(tx, { userId, name: body.name, publicKey, fingerprint }), created: true };
    });
  } catch (err) {
    if (uniqueViolation(err) !== "ssh_keys_user_fingerprint_key") throw err;
    added = { key: (await keyByFingerprint(s.db, userId, fingerprint))!, created: false };
  }
  return { ...added, job: await installKeys(s, userId) };
}

export async function removeSshKey(s: Services, userId: string, id: string): Promise<Job | null> {
  if (!(await deleteKey(s.db, userId, id))) throw new AppError("not_found", "you have no SSH key with that id");
  return installKeys(s, userId);
}

/**
 * A job that writes the person's keys into their running instance (a stopped one gets them the
 * next time a key is added, e.g. by `kws ssh`); null when there is nothing to write them into.
 */
async function installKeys(s: Services, userId: string): Promise<Job | null> {
  const instance = await instanceOfUser(s.db, userId);
  if (!instance || instance.state !== "running" || !s.config.instances.provision) return null;
  const keys = await keysOfUser(s.db, userId);
  return submitJob(s.db, configured(s.queue, "installing SSH keys needs the Node control plane (job queue)"), s.logger, {
    hostId: instance.hostId,
    userId,
    kind: "instance.exec",
    payload: { name: instance.name, command: ["/bin/sh", "-c", INSTALL_KEYS], env: { KWS_USER: instance.username, KWS_KEYS: keys.map((k) => k.publicKey).join("\n") } },
    deadlineSeconds: s.config.jobDeadlineSeconds,
  });
}

import { chmod, readFile } from "node:fs/promises";
import { generateKeyPair, isWireGuardKey, type KeyPair, keyPairOf } from "../../shared/crypto/x25519";
import { writeFileAtomic } from "../state";

/**
 * The host's key pair, kept in `path` (mode 0600) so the public key the control plane knows
 * survives restarts and reboots; made on first use. A damaged file is an error, not a new key:
 * a silent new key would cut every device off.
 */
export async function loadOrCreateKeyPair(path: string): Promise<KeyPair> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    const pair = generateKeyPair();
    await writeFileAtomic(path, `${pair.privateKey}\n`, 0o600);
    return pair;
  }
  const privateKey = text.trim();
  if (!isWireGuardKey(privateKey)) {
    throw new Error(`${path} does not hold a WireGuard private key: restore it, or delete it to make a new one (devices must then be reconfigured)`);
  }
  // An operator may have restored the file with a looser mode.
  await chmod(path, 0o600);
  return keyPairOf(privateKey);
}

import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { chmod, readFile } from "node:fs/promises";
import { WIREGUARD_KEY_PATTERN } from "../../shared/protocol/wireguard";
import { writeFileAtomic } from "../state";

// DER prefixes that wrap a raw 32-byte X25519 key (RFC 8410): WireGuard keys are exactly those bytes.
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_PREFIX_LENGTH = 12;

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

export function isWireGuardKey(text: string): boolean {
  return WIREGUARD_KEY_PATTERN.test(text);
}

/** A fresh key pair, made here with node:crypto: the private key never passes through another process. */
export function generateKeyPair(): KeyPair {
  const { privateKey } = generateKeyPairSync("x25519");
  const raw = privateKey.export({ format: "der", type: "pkcs8" }).subarray(PKCS8_PREFIX.length);
  return keyPairOf(raw.toString("base64"));
}

/** The public key that belongs to a base64 private key (what `wg pubkey` prints). */
export function keyPairOf(privateKey: string): KeyPair {
  if (!isWireGuardKey(privateKey)) throw new Error("not a WireGuard private key (base64 of 32 bytes)");
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, Buffer.from(privateKey, "base64")]), format: "der", type: "pkcs8" });
  const spki = createPublicKey(key).export({ format: "der", type: "spki" });
  return { privateKey, publicKey: spki.subarray(SPKI_PREFIX_LENGTH).toString("base64") };
}

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

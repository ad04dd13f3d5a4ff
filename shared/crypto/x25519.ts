import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { WIREGUARD_KEY_PATTERN } from "../protocol/wireguard";

// DER prefixes that wrap a raw 32-byte X25519 key (RFC 8410): WireGuard keys are exactly those bytes.
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_PREFIX_LENGTH = 12;

/** A WireGuard key pair: base64 of the raw 32-byte X25519 keys, as `wg genkey` / `wg pubkey` print them. */
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

import { createHash } from "node:crypto";
import { toBase64Url } from "./encoding";

/** 256 random bits, URL-safe. */
export function randomToken(prefix = ""): string {
  return prefix + toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}

/**
 * Tokens are stored only as their SHA-256: a database or KV leak reveals no usable token.
 * node:crypto (workerd has it with nodejs_compat) rather than WebCrypto: on every authenticated
 * request, WebCrypto's asynchronous digest cost as much CPU as the query that follows it.
 */
export async function hashToken(token: string): Promise<string> {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

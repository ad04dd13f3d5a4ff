import { toBase64Url, toHex } from "./encoding";

/** 256 random bits, URL-safe. */
export function randomToken(prefix = ""): string {
  return prefix + toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}

/** Tokens are stored only as their SHA-256: a database or KV leak reveals no usable token. */
export async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return toHex(new Uint8Array(digest));
}

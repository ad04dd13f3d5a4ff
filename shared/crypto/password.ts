import { constantTimeEqual, fromBase64Url, toBase64Url } from "./encoding";

/**
 * PBKDF2-SHA256 through WebCrypto, so the same code runs on Node and in workerd.
 * Cloudflare's production runtime refuses more than 100,000 iterations in one PBKDF2 call, so the
 * work is done as a chain: each link is PBKDF2 over the previous link's output with the same salt,
 * at most 100,000 iterations each, adding up to the stored total (≥ 600,000): the same number of
 * HMAC-SHA256 rounds an attacker must pay per guess.
 * Stored as `pbkdf2-sha256-chain$<total iterations>$<salt>$<hash>` so the cost can be raised later.
 */
const SCHEME = "pbkdf2-sha256-chain";
export const MIN_ITERATIONS = 600_000;
export const MAX_ITERATIONS_PER_CALL = 100_000;
const encoder = new TextEncoder();

async function pbkdf2(secret: Uint8Array, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", secret as BufferSource, "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: salt as BufferSource, iterations },
    key,
    256,
  );
  return new Uint8Array(bits);
}

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  let link: Uint8Array = encoder.encode(password);
  for (let left = iterations; left > 0; left -= MAX_ITERATIONS_PER_CALL) {
    link = await pbkdf2(link, salt, Math.min(left, MAX_ITERATIONS_PER_CALL));
  }
  return link;
}

export async function hashPassword(password: string, iterations = MIN_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await derive(password, salt, iterations);
  return `${SCHEME}$${iterations}$${toBase64Url(salt)}$${toBase64Url(hash)}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, iter, salt, hash] = stored.split("$");
  const iterations = Number(iter);
  if (scheme !== SCHEME || !salt || !hash || !Number.isSafeInteger(iterations) || iterations < 1) {
    return false;
  }
  const actual = await derive(password, fromBase64Url(salt), iterations);
  return constantTimeEqual(actual, fromBase64Url(hash));
}

/**
 * A hash of a random password, checked against when the account does not exist,
 * so an unknown user costs the same time as a wrong password.
 */
let dummy: Promise<string> | undefined;
export function dummyPasswordHash(iterations = MIN_ITERATIONS): Promise<string> {
  dummy ??= hashPassword(toBase64Url(crypto.getRandomValues(new Uint8Array(16))), iterations);
  return dummy;
}

/**
 * A SCRAM-SHA-256 verifier as PostgreSQL stores it (RFC 5802/7677):
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, standard base64.
 * KWS hands the cluster this instead of the password, so the plaintext never reaches the
 * cluster's SQL text or its logs. PostgreSQL applies SASLprep to passwords; KWS accepts printable
 * ASCII only (where SASLprep changes nothing), so every client computes the same keys.
 */
export const SCRAM_ITERATIONS = 4096;
const encoder = new TextEncoder();

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

async function hmac(key: Uint8Array, message: string): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey("raw", key as BufferSource, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, encoder.encode(message) as BufferSource));
}

export async function scramVerifier(
  password: string,
  { salt = crypto.getRandomValues(new Uint8Array(16)), iterations = SCRAM_ITERATIONS }: { salt?: Uint8Array; iterations?: number } = {},
): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(password) as BufferSource, "PBKDF2", false, ["deriveBits"]);
  const salted = new Uint8Array(
    await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: salt as BufferSource, iterations }, key, 256),
  );
  const clientKey = await hmac(salted, "Client Key");
  const storedKey = new Uint8Array(await crypto.subtle.digest("SHA-256", clientKey as BufferSource));
  const serverKey = await hmac(salted, "Server Key");
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** 32 characters from [A-Za-z0-9] (≈190 bits), unbiased; safe in URLs and shells as it is. */
export function generatePassword(length = 32): string {
  let out = "";
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      // 248 = 4 × 62: bytes above it would favour the first letters.
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

import { fromBase64Url, toBase64Url } from "./encoding";

/**
 * AES-256-GCM through WebCrypto, for secrets a person must be able to see again (e.g. the
 * password of a managed PostgreSQL user). Sealed text is `v1.<iv>.<ciphertext+tag>` (base64url).
 * `context` is bound as additional data, so a sealed value copied onto another row does not open.
 */
const VERSION = "v1";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface SecretBox {
  seal(plaintext: string, context?: string): Promise<string>;
  open(sealed: string, context?: string): Promise<string>;
}

export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretBoxError";
  }
}

/** 32 bytes from standard or URL-safe base64 (the form KWS_SECRET_KEY takes). */
export function decodeSecretKey(text: string): Uint8Array {
  const bytes = fromBase64Url(text.trim().replace(/=+$/, ""));
  if (bytes.length !== 32) throw new SecretBoxError(`a secret key is 32 bytes; this one has ${bytes.length}`);
  return bytes;
}

export function randomSecretKey(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
}

/** `key` may be a promise or a loader, so the key is read (or made) at first use only. */
export function createSecretBox(key: Uint8Array | (() => Promise<Uint8Array>)): SecretBox {
  let cryptoKey: Promise<CryptoKey> | undefined;
  const getKey = () => {
    cryptoKey ??= (async () => {
      const raw = typeof key === "function" ? await key() : key;
      if (raw.length !== 32) throw new SecretBoxError("the secret key must be 32 bytes");
      return crypto.subtle.importKey("raw", raw as BufferSource, "AES-GCM", false, ["encrypt", "decrypt"]);
    })();
    // A failed load is not cached: the next use tries again (and reports again).
    cryptoKey.catch(() => (cryptoKey = undefined));
    return cryptoKey;
  };
  const params = (iv: Uint8Array, context: string): AesGcmParams => ({
    name: "AES-GCM",
    iv: iv as BufferSource,
    additionalData: encoder.encode(context) as BufferSource,
  });
  return {
    async seal(plaintext, context = "") {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const sealed = await crypto.subtle.encrypt(params(iv, context), await getKey(), encoder.encode(plaintext) as BufferSource);
      return `${VERSION}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(sealed))}`;
    },
    async open(sealed, context = "") {
      const [version, iv, data] = sealed.split(".");
      if (version !== VERSION || !iv || !data) throw new SecretBoxError("not a sealed secret of this version");
      try {
        const plain = await crypto.subtle.decrypt(params(fromBase64Url(iv), context), await getKey(), fromBase64Url(data) as BufferSource);
        return decoder.decode(plain);
      } catch (err) {
        if (err instanceof SecretBoxError) throw err;
        throw new SecretBoxError("the secret does not open with this key (KWS_SECRET_KEY changed?) or was altered");
      }
    },
  };
}

import { SESSION_TTL_SECONDS } from "../auth/sessions";
import { constantTimeEqual } from "../../shared/crypto/encoding";
import { hashToken, randomToken } from "../../shared/crypto/tokens";
import type { KV } from "../../shared/kv/port";

/** The host-only cookie that carries a person's grant on one app host. */
export const APP_COOKIE = "kws_app";
/**
 * The browser that started a sign-in holds this (host-only, sent to /.kws/ only), and the code
 * carries the same value: a code someone else obtained cannot sign this browser in as them.
 */
export const STATE_COOKIE = "kws_app_state";
const CODE_TTL_SECONDS = 60;

interface Code {
  userId: string;
  label: string;
  path: string;
  state: string;
}

interface Grant {
  userId: string;
  label: string;
}

const codeKey = async (code: string) => `ingress:code:${await hashToken(code)}`;
const grantKey = async (token: string) => `ingress:grant:${await hashToken(token)}`;

/** A one-time code the control plane hands to the app host `label`, for `userId`, to land on `path`. */
export async function issueCode(kv: KV, code: Code): Promise<string> {
  const secret = randomToken();
  await kv.set(await codeKey(secret), JSON.stringify(code), { ttlSeconds: CODE_TTL_SECONDS });
  return secret;
}

/**
 * The code's content, once: whoever deletes the key first is the one use. A code of another host,
 * or one this browser did not ask for (its state cookie differs), is refused.
 */
export async function takeCode(kv: KV, secret: string, label: string, state: string | undefined): Promise<Code | undefined> {
  const key = await codeKey(secret);
  const value = await kv.get(key);
  if (!value || !(await kv.del(key))) return undefined;
  const code = JSON.parse(value) as Code;
  const enc = new TextEncoder();
  if (code.label !== label || !state || !constantTimeEqual(enc.encode(code.state), enc.encode(state))) return undefined;
  return code;
}

/** A grant for the app host `label`: the cookie's value; only its hash is stored. */
export async function issueGrant(kv: KV, grant: Grant): Promise<string> {
  const token = randomToken();
  await kv.set(await grantKey(token), JSON.stringify(grant), { ttlSeconds: SESSION_TTL_SECONDS });
  return token;
}

/** The person a grant cookie stands for on this app host; a cookie of another host counts for nothing. */
export async function grantUser(kv: KV, token: string, label: string): Promise<string | undefined> {
  const value = await kv.get(await grantKey(token));
  if (!value) return undefined;
  const grant = JSON.parse(value) as Grant;
  return grant.label === label ? grant.userId : undefined;
}

export const GRANT_TTL_SECONDS = SESSION_TTL_SECONDS;

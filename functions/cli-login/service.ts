import type { Actor } from "../audit/record";
import { randomInt } from "node:crypto";
import { hashToken, randomToken } from "../../shared/crypto/tokens";
import type { Logger } from "../../shared/logger";
import type { ApiToken } from "../../shared/db/schema";
import { clientBucket } from "../auth/login-limits";
import { AppError, invalid } from "../core/errors";
import { enforceRateLimit } from "../middleware/rate-limit";
import type { Services } from "../services";
import { issueToken } from "../tokens/service";
import { CODE_TTL_SECONDS, normalizeUserCode, POLL_INTERVAL_SECONDS, USER_CODE_ALPHABET, USER_CODE_LENGTH } from "./schemas";

/**
 * A sign-in waiting for its person, in the KV (it may be lost: the CLI starts again). Both codes
 * are kept only as their SHA-256. A decision is written once (SET NX), and the token is made once,
 * when the CLI polls after the approval: its secret is never stored.
 */
interface PendingLogin {
  userCodeHash: string;
  clientName: string;
  /** Where the CLI asked from, shown on the page so a person can tell a request that is not theirs. */
  clientIp: string;
  expiresAt: number;
}

interface Decision {
  approved: boolean;
  userId: string;
}

const keys = {
  login: (deviceHash: string) => `device-login:${deviceHash}`,
  byUserCode: (userCodeHash: string) => `device-login-code:${userCodeHash}`,
  decision: (deviceHash: string) => `device-login-decision:${deviceHash}`,
  issued: (deviceHash: string) => `device-login-issued:${deviceHash}`,
};

// Kept past the code's expiry, so that a late poll hears "expired" rather than "unknown".
const RECORD_TTL_SECONDS = 2 * CODE_TTL_SECONDS;
/** Codes asked for per client address: a CLI asks once per login. */
const CODE_REQUESTS = { burst: 10, intervalMs: 60_000 };
/** Codes looked up per person: guessing another person's waiting code takes ~10^10 tries. */
const CODE_LOOKUPS = { burst: 10, intervalMs: 6_000 };
/** A poll early by up to a second still counts as on time (timers and networks jitter). */
const POLLS = { burst: 1, intervalMs: (POLL_INTERVAL_SECONDS - 1) * 1000 };
const DEVICE_CODE_PREFIX = "kwsd_";

const newUserCode = () => Array.from({ length: USER_CODE_LENGTH }, () => USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)]).join("");
/** As the terminal and the page show it: BDFG-HJKL. */
export const formatUserCode = (code: string) => `${code.slice(0, 4)}-${code.slice(4)}`;

export async function startDeviceLogin(s: Services, clientName: string | undefined, clientIp: string) {
  await enforceRateLimit(s.kv, `device-code:${clientBucket(clientIp)}`, CODE_REQUESTS);
  const deviceCode = randomToken(DEVICE_CODE_PREFIX);
  const deviceHash = await hashToken(deviceCode);
  let userCode = newUserCode();
  // A user code names one waiting sign-in: on the rare collision, draw again.
  while (!(await s.kv.set(keys.byUserCode(await hashToken(userCode)), deviceHash, { ttlSeconds: CODE_TTL_SECONDS, onlyIfAbsent: true }))) userCode = newUserCode();
  const login: PendingLogin = {
    userCodeHash: await hashToken(userCode),
    clientName: clientName ?? "kws CLI",
    clientIp,
    expiresAt: Date.now() + CODE_TTL_SECONDS * 1000,
  };
  await s.kv.set(keys.login(deviceHash), JSON.stringify(login), { ttlSeconds: RECORD_TTL_SECONDS });
  const page = `${s.config.publicUrl}/kws_device`;
  return {
    device_code: deviceCode,
    user_code: formatUserCode(userCode),
    verification_uri: page,
    verification_uri_complete: `${page}?code=${formatUserCode(userCode)}`,
    expires_in: CODE_TTL_SECONDS,
    interval: POLL_INTERVAL_SECONDS,
  };
}

async function loginOf(s: Services, deviceHash: string): Promise<PendingLogin | undefined> {
  const raw = await s.kv.get(keys.login(deviceHash));
  return raw ? (JSON.parse(raw) as PendingLogin) : undefined;
}

async function decisionOf(s: Services, deviceHash: string): Promise<Decision | undefined> {
  const raw = await s.kv.get(keys.decision(deviceHash));
  return raw ? (JSON.parse(raw) as Decision) : undefined;
}

/** The CLI's poll: the token once the person approved, else why not yet (RFC 8628 §3.5). */
export async function pollDeviceLogin(s: Services, deviceCode: string, log: Logger, caller: Actor): Promise<{ token: ApiToken; secret: string }> {
  const deviceHash = await hashToken(deviceCode);
  const login = deviceCode.startsWith(DEVICE_CODE_PREFIX) ? await loginOf(s, deviceHash) : undefined;
  if (!login) throw invalid("device_code", "not a code KWS issued (or one that expired long ago): ask for a new one at /api/v1/device/code");
  if (login.expiresAt <= Date.now()) throw new AppError("expired_token", "the code expired before it was approved: ask for a new one");
  const poll = await s.kv.hit(`ratelimit:device-poll:${deviceHash}`, POLLS);
  if (!poll.allowed) throw new AppError("slow_down", `polled too often: wait ${POLL_INTERVAL_SECONDS} s between polls, and 5 s more from now on`);
  const decision = await decisionOf(s, deviceHash);
  if (!decision) throw new AppError("authorization_pending", "waiting for the person to approve the code");
  if (!decision.approved) throw new AppError("access_denied", "the person denied this sign-in");
  if (!(await s.kv.set(keys.issued(deviceHash), "1", { ttlSeconds: RECORD_TTL_SECONDS, onlyIfAbsent: true }))) {
    throw new AppError("expired_token", "this code was used already: ask for a new one");
  }
  await s.kv.del(keys.byUserCode(login.userCodeHash));
  // Made for the person who approved it, from the CLI's request.
  const issued = await issueToken(s.db, { userId: decision.userId, name: login.clientName, scope: "full" }, { ...caller, kind: "person", userId: decision.userId });
  log.info("device login: api token issued", { userId: decision.userId, tokenId: issued.token.id });
  return issued;
}

/** A sign-in waiting for the code a person typed, for the page to show before they decide. */
export async function waitingLogin(s: Services, userId: string, typedCode: string) {
  await enforceRateLimit(s.kv, `device-lookup:${userId}`, CODE_LOOKUPS);
  const userCode = normalizeUserCode(typedCode);
  const deviceHash = await s.kv.get(keys.byUserCode(await hashToken(userCode)));
  const login = deviceHash ? await loginOf(s, deviceHash) : undefined;
  if (!deviceHash || !login || login.expiresAt <= Date.now()) {
    throw new AppError("not_found", "no sign-in is waiting for this code: check it against your terminal, or run kws login again (a code lasts 10 minutes)");
  }
  if (await decisionOf(s, deviceHash)) throw new AppError("gone", "this code was used already: run kws login again");
  return { deviceHash, userCode: formatUserCode(userCode), clientName: login.clientName, clientIp: login.clientIp };
}

/** The person's answer to a waiting sign-in: given once, by whoever is signed in on the page. */
export async function decideDeviceLogin(s: Services, userId: string, input: { code: string; decision: "approve" | "deny" }, log: Logger) {
  const { deviceHash } = await waitingLogin(s, userId, input.code);
  const decision: Decision = { approved: input.decision === "approve", userId };
  if (!(await s.kv.set(keys.decision(deviceHash), JSON.stringify(decision), { ttlSeconds: RECORD_TTL_SECONDS, onlyIfAbsent: true }))) {
    throw new AppError("gone", "this code was used already: run kws login again");
  }
  log.info(`device login ${decision.approved ? "approved" : "denied"}`, { userId });
}

import { hashToken, randomToken } from "../../shared/crypto/tokens";

/** How long a new host's enrollment token can be traded for its credential. */
export const ENROLLMENT_TTL_MS = 60 * 60 * 1000;
export const ENROLLMENT_TOKEN_PREFIX = "kws_enroll_";
/** The credential an agent gets for its enrollment token, shown once. */
export const HOST_CREDENTIAL_PREFIX = "kws_host_";

/**
 * A one-time enrollment token for a host about to be inserted: the row keeps the hash and the
 * expiry (spread into insertHost's values), the token itself is answered once.
 */
export async function newEnrollment(now = Date.now()) {
  const token = randomToken(ENROLLMENT_TOKEN_PREFIX);
  return { token, enrollmentTokenHash: await hashToken(token), enrollmentExpiresAt: new Date(now + ENROLLMENT_TTL_MS) };
}

import { audit, type Actor } from "../audit/record";
import { hashToken, randomToken } from "../../shared/crypto/tokens";
import type { Database } from "../../shared/db";
import { uniqueViolation } from "../../shared/db/errors";
import type { Host } from "../../shared/db/schema";
import { AppError } from "../core/errors";
import { insertHost } from "./store";

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

/** A new host and its one-time enrollment token (shown once); 409 when the name is taken. */
export async function registerHost(db: Database, body: { name: string; publicAddress?: string }, who: Actor): Promise<{ host: Host; enrollmentToken: string }> {
  const { token: enrollmentToken, ...enrollment } = await newEnrollment();
  try {
    const host = await db.transaction(async (tx) => {
      const row = await insertHost(tx, { name: body.name, publicAddress: body.publicAddress ?? null, ...enrollment });
      await audit(tx, who, { action: "host.create", target: { type: "host", id: row.id }, detail: { name: row.name } });
      return row;
    });
    return { host, enrollmentToken };
  } catch (err) {
    if (uniqueViolation(err) === undefined) throw err;
    throw new AppError("conflict", "name: is already taken", { issues: [{ path: "name", message: "is already taken" }] });
  }
}

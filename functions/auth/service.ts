import { createSession, destroySession } from "./sessions";
import { findUserById, findUserByLogin } from "./users";
import { dummyPasswordHash, hashPassword, verifyPassword } from "../../shared/crypto/password";
import { uniqueViolation } from "../../shared/db/errors";
import type { User } from "../../shared/db/schema";
import { AppError, type ErrorIssue } from "../core/errors";
import type { Logger } from "../../shared/logger";
import { enforceRateLimit, resetRateLimit } from "../middleware/rate-limit";
import type { Services } from "../services";
import type { Actor } from "../audit/record";
import { clientBucket, refundLoginFailures, REFUSAL_DELAY_MS, reserveAccountFailure, reserveAddressFailure } from "./login-limits";
import { verificationMail } from "./mails";
import { insertUser, markVerified, takenFields } from "./queries";
import type { LoginInput, RegisterInput } from "./schemas";
import { staleBefore } from "./unverified-accounts";
import { consumeVerificationToken, issueVerificationToken, peekVerificationToken } from "./verification";

/**
 * The account operations, shared by the JSON API and the HTML forms.
 * Each takes the services and the caller's address and throws AppError for the client.
 */

function conflict(fields: ("email" | "username")[]): AppError {
  const issues: ErrorIssue[] = fields.map((path) => ({
    path,
    message: path === "email" ? "is already registered" : "is already taken",
  }));
  return new AppError("conflict", issues.map((i) => `${i.path} ${i.message}`).join("; "), { issues });
}

async function sendVerification(s: Services, log: Logger, user: Pick<User, "id" | "email" | "firstName" | "username">) {
  try {
    const token = await issueVerificationToken(s.kv, user.id);
    // A page that asks before verifying: opening the link (a mail scanner does) verifies nothing.
    const link = `${s.config.publicUrl}/kws_verify?token=${encodeURIComponent(token)}`;
    await s.mailer.send(verificationMail(user.email, user.firstName, user.username, link));
  } catch (err) {
    // The account stays; the person can ask for a new link.
    log.warn("verification mail not sent", { userId: user.id, err });
  }
}

export async function register(s: Services, log: Logger, input: RegisterInput, actor: Actor): Promise<User> {
  await enforceRateLimit(s.kv, `register:${actor.ip}`, s.config.rateLimits.register);
  // An unverified account holding the address is replaced: whoever made it never proved the address.
  const cutoff = staleBefore();
  const taken = await takenFields(s.db, input.email, input.username, cutoff);
  if (taken.email || taken.username) {
    throw conflict([...(taken.email ? ["email" as const] : []), ...(taken.username ? ["username" as const] : [])]);
  }
  const passwordHash = await hashPassword(input.password, s.config.passwordIterations);
  let user: User;
  try {
    const inserted = await insertUser(s.db, { ...input, passwordHash }, cutoff, actor);
    user = inserted.user;
    if (inserted.replaced.length > 0) log.info("unverified accounts replaced", { userId: user.id, replaced: inserted.replaced });
  } catch (err) {
    const constraint = uniqueViolation(err);
    if (constraint === undefined) throw err;
    throw conflict([constraint.includes("email") ? "email" : "username"]);
  }
  log.info("user registered", { userId: user.id });
  await sendVerification(s, log, user);
  return user;
}

/** The account a verification link is for, without using the link: what the page asks about. */
export async function verificationTarget(s: Services, token: string): Promise<Pick<User, "email" | "username">> {
  const { userId } = await peekVerificationToken(s.kv, token);
  const user = await findUserById(s.db, userId);
  if (!user) throw new AppError("gone", "the account of this link no longer exists");
  if (user.verifiedAt !== null) throw new AppError("gone", "this account is already verified; sign in");
  return { email: user.email, username: user.username };
}

export async function verifyEmail(s: Services, log: Logger, token: string, actor: Actor): Promise<void> {
  const used = await consumeVerificationToken(s.kv, token);
  try {
    const user = await findUserById(s.db, used.userId);
    if (!user) throw new AppError("gone", "the account of this link no longer exists");
    await markVerified(s.db, user.id, actor);
  } catch (err) {
    if (!(err instanceof AppError)) await used.release();
    throw err;
  }
  log.info("e-mail verified", { userId: used.userId });
}

export async function resendVerification(s: Services, log: Logger, email: string, ip: string): Promise<void> {
  await enforceRateLimit(s.kv, `resend-ip:${ip}`, s.config.rateLimits.resend);
  await enforceRateLimit(s.kv, `resend-email:${email}`, s.config.rateLimits.resend);
  const user = await findUserByLogin(s.db, email);
  if (user && user.verifiedAt === null && user.email === email) await sendVerification(s, log, user);
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** A promise that cannot reject, so one started early is never an unhandled rejection. */
function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

async function discardSession(s: Services, log: Logger, pending: Promise<Settled<string>>): Promise<void> {
  const written = await pending;
  if (written.ok) await destroySession(s.kv, written.value).catch((err) => log.warn("discarding an unused session failed", { err }));
}

export async function login(
  s: Services,
  log: Logger,
  input: LoginInput,
  ip: string,
): Promise<{ user: User; sessionToken: string; hashMs: number }> {
  const limitKey = `login:${ip}:${input.username.trim().toLowerCase()}`;
  const rules = s.config.rateLimits;
  let pending: Promise<Settled<string>> | undefined;
  let hashMs = 0;
  // One attempt of a client at a time (where the process has a gate): its limits are taken, its
  // hash runs and a matching password's reservation is given back before its next attempt is
  // counted, so concurrent correct logins from one address (an office behind NAT) are never
  // refused for failures they did not make, and a flood waits its turn instead of filling the pool.
  const attempt = async () => {
    // Every limit is taken before the hash. The address's first and alone: a flood from one address
    // is then refused at the cost of one KV call, without touching the database.
    const refused = await reserveAddressFailure(s.kv, rules, ip);
    if (refused) return { refused };
    const [, user] = await Promise.all([enforceRateLimit(s.kv, limitKey, rules.login), findUserByLogin(s.db, input.username)]);
    if (user) await reserveAccountFailure(s.kv, rules, user.id);
    // The session is written while the hash runs, so the answer does not wait for the KV after it.
    // Its token stays in this function unless the password matches: until then nobody can use it.
    pending = user ? settle(createSession(s.kv, user.id, user.sessionGeneration)) : undefined;
    // Unknown users cost one hash too, so the answer's timing does not reveal them.
    const stored = user?.passwordHash ?? (await dummyPasswordHash(s.config.passwordIterations));
    const started = performance.now();
    const ok = await verifyPassword(input.password, stored);
    hashMs = performance.now() - started;
    // A matching password is no failure, whatever comes next.
    if (user && ok) await refundLoginFailures(s.kv, rules, ip, user.id).catch((err) => log.warn("login failure refund failed", { err }));
    return { user, ok };
  };
  const outcome = s.hashGate ? await s.hashGate.run(clientBucket(ip), attempt) : await attempt();
  if ("refused" in outcome) {
    await new Promise((resolve) => setTimeout(resolve, REFUSAL_DELAY_MS));
    throw outcome.refused;
  }
  const { user, ok } = outcome;
  if (!user || !ok || user.verifiedAt === null) {
    // Not awaited: a wrong password must answer as fast as an unknown user, who has no session.
    if (pending) void discardSession(s, log, pending);
    if (user && ok) throw new AppError("unverified", "verify your e-mail address first; we can send a new link");
    log.info("login failed", { ip });
    throw new AppError("unauthorized", "wrong username or password");
  }
  if (user.suspendedAt) {
    void discardSession(s, log, pending!);
    log.info("login refused: suspended", { userId: user.id });
    throw new AppError("suspended", "this account is suspended; ask an administrator");
  }
  // The reset need not delay the answer: if it were lost, the bucket only refills on its own.
  resetRateLimit(s.kv, limitKey).catch((err) => log.warn("rate limit reset failed", { err }));
  const written = await pending!;
  if (!written.ok) throw written.error;
  const sessionToken = written.value;
  log.info("login", { userId: user.id });
  return { user, sessionToken, hashMs };
}

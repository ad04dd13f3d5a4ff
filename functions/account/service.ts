import { consumeLinkToken, issueLinkToken, type LinkKind, type UsedLink } from "../auth/link-tokens";
import { findUserById, findUserByLogin } from "../auth/users";
import { hashPassword, verifyPassword } from "../../shared/crypto/password";
import { uniqueViolation } from "../../shared/db/errors";
import type { User } from "../../shared/db/schema";
import { AppError } from "../core/errors";
import type { Logger } from "../../shared/logger";
import type { Mail } from "../../shared/mail/port";
import { enforceRateLimit } from "../middleware/rate-limit";
import type { Services } from "../services";
import { emailChangedNotice, emailChangeMail, passwordResetMail } from "./mails";
import { changeEmail, newSessionGeneration } from "./queries";
import { clearLoginFailures } from "../auth/login-limits";
import { type Actor, audit, type Person } from "../audit/record";
import type { Db } from "../../shared/db";

/**
 * The account operations of a person (password reset and change, e-mail change, signing out
 * everywhere), shared by the JSON API and the pages. Each throws AppError for the client.
 */

export const RESET_TTL_MS = 60 * 60 * 1000;
export const EMAIL_CHANGE_TTL_MS = 24 * 60 * 60 * 1000;
// A reset link is bound to the session generation it was sent under: any password change, reset or
// "sign out everywhere" since then makes it useless, so of two links only the first one works.
export const PASSWORD_RESET: LinkKind = { prefix: "reset", ttlMs: RESET_TTL_MS, noun: "password reset link" };
export const EMAIL_CHANGE: LinkKind = { prefix: "email-change", ttlMs: EMAIL_CHANGE_TTL_MS, noun: "e-mail confirmation link" };

export interface ResetLink {
  userId: string;
  generation: number;
}

export interface EmailChangeLink {
  userId: string;
  from: string;
  to: string;
}

const fieldError = (code: "forbidden" | "conflict" | "invalid", path: string, message: string) =>
  new AppError(code, `${path}: ${message}`, { issues: [{ path, message }] });

/** The person, after their password was checked (rate limited per person: a stolen session cannot guess it). */
export async function checkPassword(s: Services, userId: string, password: string, field: string): Promise<User> {
  await enforceRateLimit(s.kv, `password-check:${userId}`, s.config.rateLimits.login);
  const user = await findUserById(s.db, userId);
  if (!user) throw new AppError("unauthorized", "your account no longer exists");
  if (!(await verifyPassword(password, user.passwordHash))) throw fieldError("forbidden", field, "is not your current password");
  return user;
}

/** Raises the session generation (with `changes`) and records why, in one transaction. */
function newGenerationAudited(
  s: Services,
  actor: Actor,
  action: string,
  userId: string,
  changes?: Parameters<typeof newSessionGeneration>[2],
  expected?: number,
): Promise<number | undefined> {
  return s.db.transaction(async (tx: Db) => {
    const generation = await newSessionGeneration(tx, userId, changes, expected);
    if (generation !== undefined) await audit(tx, actor, { action, target: { type: "account", id: userId }, subjectUserId: userId });
    return generation;
  });
}

/** A use of a link whose change failed for a reason of ours makes the link usable again. */
async function withLink<T extends object, R>(used: UsedLink<T>, apply: (data: T) => Promise<R>): Promise<R> {
  try {
    return await apply(used.data);
  } catch (err) {
    if (!(err instanceof AppError)) await used.release();
    throw err;
  }
}

function sendInBackground(s: Services, log: Logger, mail: () => Promise<Mail>, what: string): void {
  mail()
    .then((m) => s.mailer.send(m))
    .catch((err: unknown) => log.warn(`${what} not sent`, { err }));
}

/**
 * Mails a reset link when the address has an account. The answer is the same either way and does
 * not wait for the mail, so neither its body nor its timing tells whether the address is known.
 */
export async function requestPasswordReset(s: Services, log: Logger, email: string, ip: string): Promise<void> {
  await enforceRateLimit(s.kv, `reset-ip:${ip}`, s.config.rateLimits.resend);
  await enforceRateLimit(s.kv, `reset-email:${email}`, s.config.rateLimits.resend);
  const user = await findUserByLogin(s.db, email);
  if (!user || user.email !== email) return;
  sendInBackground(
    s,
    log,
    async () => {
      const token = await issueLinkToken<ResetLink>(s.kv, PASSWORD_RESET, { userId: user.id, generation: user.sessionGeneration });
      return passwordResetMail(user.email, user.firstName, `${s.config.publicUrl}/kws_reset?token=${encodeURIComponent(token)}`);
    },
    "password reset mail",
  );
  log.info("password reset requested", { userId: user.id });
}

/** Sets the new password and ends every session of the person. Unknown link 404, used or expired 410. */
export async function confirmPasswordReset(s: Services, log: Logger, token: string, password: string, actor: Actor): Promise<void> {
  const used = await consumeLinkToken<ResetLink>(s.kv, PASSWORD_RESET, token);
  await withLink(used, async ({ userId, generation }) => {
    const passwordHash = await hashPassword(password, s.config.passwordIterations);
    const changed = await newGenerationAudited(s, actor, "account.password_reset", userId, { passwordHash }, generation);
    if (changed === undefined) {
      throw new AppError("gone", "this password reset link no longer works: the password was changed or every session ended since it was sent; ask for a new one");
    }
  });
  // Whoever locked the account out with wrong passwords, its owner just proved they hold the mail.
  await clearLoginFailures(s.kv, used.data.userId);
  log.info("password reset", { userId: used.data.userId });
}

/** The new session generation: every other session has ended; the caller keeps theirs with a new session. */
export async function changePassword(s: Services, log: Logger, who: Person, input: { currentPassword: string; newPassword: string }): Promise<number> {
  const { userId } = who;
  await checkPassword(s, userId, input.currentPassword, "currentPassword");
  const passwordHash = await hashPassword(input.newPassword, s.config.passwordIterations);
  const generation = await newGenerationAudited(s, who, "account.password_change", userId, { passwordHash });
  if (generation === undefined) throw new AppError("unauthorized", "your account no longer exists");
  log.info("password changed", { userId });
  return generation;
}

/** Ends every session of the person, the caller's included. API tokens are not sessions: they stay. */
export async function endAllSessions(s: Services, log: Logger, who: Person): Promise<number> {
  const { userId } = who;
  const generation = await newGenerationAudited(s, who, "account.sign_out_all", userId);
  if (generation === undefined) throw new AppError("unauthorized", "your account no longer exists");
  log.info("signed out everywhere", { userId });
  return generation;
}

async function refuseTaken(s: Services, email: string): Promise<void> {
  if (await findUserByLogin(s.db, email)) throw fieldError("conflict", "email", "is already registered");
}

/** Mails a confirmation link to the new address; nothing changes until it is confirmed. */
export async function requestEmailChange(s: Services, log: Logger, userId: string, input: { email: string; password: string }): Promise<void> {
  const user = await checkPassword(s, userId, input.password, "password");
  if (input.email === user.email) throw fieldError("invalid", "email", "is already your address");
  // Each request mails someone: limited like the other mails a person can trigger.
  await enforceRateLimit(s.kv, `email-change:${userId}`, s.config.rateLimits.resend);
  await refuseTaken(s, input.email);
  const token = await issueLinkToken<EmailChangeLink>(s.kv, EMAIL_CHANGE, { userId, from: user.email, to: input.email });
  const link = `${s.config.publicUrl}/kws_email_confirm?token=${encodeURIComponent(token)}`;
  try {
    await s.mailer.send(emailChangeMail(input.email, user.firstName, link));
  } catch (err) {
    log.warn("e-mail change mail not sent", { userId, err });
    throw new AppError("unavailable", "the confirmation mail could not be sent; try again later");
  }
  log.info("e-mail change requested", { userId });
}

/** Applies a confirmed change (the address must still be free) and tells the old address. */
export async function confirmEmailChange(s: Services, log: Logger, token: string, actor: Actor): Promise<string> {
  const used = await consumeLinkToken<EmailChangeLink>(s.kv, EMAIL_CHANGE, token);
  const user = await withLink(used, async ({ userId, from, to }) => {
    const found = await findUserById(s.db, userId);
    if (!found) throw new AppError("gone", "the account of this link no longer exists");
    await refuseTaken(s, to);
    try {
      await s.db.transaction(async (tx) => {
        if (!(await changeEmail(tx, userId, from, to))) {
          throw new AppError("gone", "this link no longer works: the account's address changed since it was sent");
        }
        await audit(tx, actor, { action: "account.email_change", target: { type: "account", id: userId }, subjectUserId: userId, detail: { from, to } });
      });
    } catch (err) {
      // Taken between the check and the update: the unique index decides.
      if (uniqueViolation(err) !== undefined) throw fieldError("conflict", "email", "is already registered");
      throw err;
    }
    return found;
  });
  const { from, to } = used.data;
  await s.mailer.send(emailChangedNotice(from, user.firstName, to)).catch((err: unknown) => log.warn("e-mail change notice not sent", { userId: user.id, err }));
  log.info("e-mail changed", { userId: user.id });
  return to;
}

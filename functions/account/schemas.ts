import { z } from "@hono/zod-openapi";
import { strongPassword } from "../../shared/auth/password-rule";
import { emailField } from "../auth/schemas";

const tokenField = z.string({ message: "is required" }).min(1, "is required").max(200, "is too long");

/** A password the person already has: checked against the stored hash, so no strength rule here. */
const currentPassword = z.string({ message: "must be a string" }).min(1, "is required").max(128, "is too long");

export const PasswordResetBody = z.object({ email: emailField }).openapi("PasswordResetRequest");

export const PasswordResetConfirmBody = z
  .object({ token: tokenField, password: strongPassword })
  .openapi("PasswordResetConfirmRequest");

export const ChangePasswordBody = z
  .object({ currentPassword, newPassword: strongPassword })
  .openapi("ChangePasswordRequest");

export const ChangeEmailBody = z.object({ email: emailField, password: currentPassword }).openapi("ChangeEmailRequest");

export const ConfirmEmailBody = z.object({ token: tokenField }).openapi("ConfirmEmailRequest");

export const DeleteAccountBody = z.object({ password: currentPassword }).openapi("DeleteAccountRequest");

export const TokenQuery = z.object({ token: tokenField });

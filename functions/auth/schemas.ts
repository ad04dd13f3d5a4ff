import { z } from "@hono/zod-openapi";
import { strongPassword } from "../../shared/auth/password-rule";
import { UserSchema } from "../schemas";

export const emailField = z
  .string({ message: "must be a string" })
  .trim()
  .max(320, "must be at most 320 characters")
  .pipe(z.email({ message: "must be a valid e-mail address" }))
  .transform((v) => v.toLowerCase())
  .openapi({ example: "ada@example.org" });

export const usernameField = z
  .string({ message: "must be a string" })
  .regex(
    /^[a-zA-Z][a-zA-Z0-9._]{4,29}$/,
    "must be 5-30 characters: a letter, then letters, digits, '.' or '_'",
  )
  .openapi({ example: "ada.lovelace" });

export const passwordField = strongPassword;

const nameField = z
  .string({ message: "must be a string" })
  .min(1, "must not be empty")
  .max(50, "must be at most 50 characters")
  .regex(/^[\p{L}\p{M} '.-]+$/u, "may contain only letters, spaces, ' . and -")
  .refine((v) => /\p{L}/u.test(v), "must contain a letter");

export const RegisterBody = z
  .object({
    email: emailField,
    username: usernameField,
    password: passwordField,
    firstName: nameField.openapi({ example: "Ada" }),
    lastName: nameField.openapi({ example: "Lovelace" }),
  })
  .openapi("RegisterRequest");
export type RegisterInput = z.infer<typeof RegisterBody>;

export const RegisteredSchema = z
  .object({
    user: z.object({ id: z.uuid(), email: z.string(), username: z.string(), verified: z.boolean() }),
  })
  .openapi("Registered");

const verifyToken = z.string({ message: "is required" }).min(1, "is required").max(200, "is too long");

export const VerifyQuery = z.object({ token: verifyToken });

export const VerifyBody = z.object({ token: verifyToken.openapi({ description: "the token of the mailed link" }) }).openapi("VerifyRequest");

export const ResendBody = z.object({ email: emailField }).openapi("ResendRequest");

export const LoginBody = z
  .object({
    username: z
      .string({ message: "must be a string" })
      .min(1, "is required")
      .max(320, "must be at most 320 characters")
      .regex(/^[^\u0000-\u001f\u007f]+$/, "must not contain control characters")
      .openapi({ description: "username or e-mail address" }),
    password: z.string({ message: "must be a string" }).min(1, "is required").max(128, "is too long"),
  })
  .openapi("LoginRequest");
export type LoginInput = z.infer<typeof LoginBody>;

export const UserResponse = z.object({ user: UserSchema }).openapi("UserResponse");
export const MessageResponse = z.object({ message: z.string() }).openapi("Message");

import { z } from "zod";

/** The strength rule of every password a person chooses: their account's and their instance's. */
export const strongPassword = z
  .string({ message: "must be a string" })
  .min(8, "must be at least 8 characters")
  .max(128, "must be at most 128 characters")
  .refine((v) => /[a-z]/.test(v), "must contain a lower-case letter")
  .refine((v) => /[A-Z]/.test(v), "must contain an upper-case letter")
  .refine((v) => /[0-9]/.test(v), "must contain a digit")
  .refine((v) => /[^a-zA-Z0-9]/.test(v), "must contain a special character");

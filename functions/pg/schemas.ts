import { z } from "@hono/zod-openapi";

export const NAME_RULE = "must be 3-63 characters: lower-case letters, digits and _, starting with a letter";

/** Names PostgreSQL keeps for itself or that would confuse people; the admin's name is added at run time. */
const RESERVED = new Set(["postgres", "public", "none", "template0", "template1", "current_user", "current_role", "session_user", "system_user", "user"]);

export function isReservedName(name: string): boolean {
  return RESERVED.has(name) || name.startsWith("pg_");
}

/** A role or database name: a plain identifier, so it reads the same quoted or not. */
export const PgName = z
  .string({ message: "must be a string" })
  .regex(/^[a-z][a-z0-9_]{2,62}$/, NAME_RULE)
  .refine((n) => !isReservedName(n), "is reserved");

export const PASSWORD_RULE = "must be 12-256 printable ASCII characters (letters, digits, punctuation, space)";

/**
 * Printable ASCII only: PostgreSQL's SASLprep leaves these unchanged, so the verifier KWS computes
 * matches what every client sends (some drivers skip SASLprep, and it changes non-ASCII text).
 */
export const PgPassword = z
  .string({ message: "must be a string" })
  .min(12, PASSWORD_RULE)
  .max(256, PASSWORD_RULE)
  .regex(/^[\x20-\x7e]+$/, PASSWORD_RULE);

export const CreatePgUserBody = z
  .object({
    name: PgName,
    password: PgPassword.optional().openapi({ description: "leave out to get a generated one (32 random characters)" }),
  })
  .openapi("CreatePgUserRequest");

/** The same, from a form: an empty password field means "generate one". */
export const CreatePgUserForm = z.object({
  name: PgName,
  password: z.preprocess((v) => (v === "" ? undefined : v), PgPassword.optional()),
});

export const CreatePgDatabaseBody = z
  .object({ name: PgName, owner: PgName.openapi({ description: "one of your database users" }) })
  .openapi("CreatePgDatabaseRequest");

export const PgNameParam = z.object({ name: PgName });

const Connection = { host: z.string(), port: z.number().int() };

export const PgUserSchema = z
  .object({ name: z.string(), createdAt: z.string(), databases: z.array(z.string()) })
  .openapi("PgUser");

export const PgUserListSchema = z.object({ ...Connection, users: z.array(PgUserSchema) }).openapi("PgUserList");

export const CreatedPgUserSchema = z
  .object({
    ...Connection,
    user: PgUserSchema,
    password: z.string(),
    connectionUri: z.string().openapi({ description: "add a database name after the last /" }),
  })
  .openapi("CreatedPgUser");

export const PgUserPasswordSchema = z
  .object({ ...Connection, name: z.string(), password: z.string(), connectionUri: z.string() })
  .openapi("PgUserPassword");

export const PgDatabaseSchema = z
  .object({ name: z.string(), owner: z.string(), createdAt: z.string() })
  .openapi("PgDatabase");

export const PgDatabaseListSchema = z
  .object({ ...Connection, databases: z.array(PgDatabaseSchema) })
  .openapi("PgDatabaseList");

export const CreatedPgDatabaseSchema = z
  .object({ ...Connection, database: PgDatabaseSchema, connectionUri: z.string() })
  .openapi("CreatedPgDatabase");

export const DriftEntrySchema = z
  .object({
    kind: z.enum(["role", "database"]),
    name: z.string(),
    side: z.enum(["cluster", "kws", "both"]).openapi({ description: "where it exists: on the cluster only, in KWS's rows only, or both but disagreeing" }),
    userId: z.string().nullable(),
    problem: z.string(),
  })
  .openapi("PgDriftEntry");

export const DriftListSchema = z.object({ drift: z.array(DriftEntrySchema) }).openapi("PgDrift");

export type DriftEntry = z.infer<typeof DriftEntrySchema>;

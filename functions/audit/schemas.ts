import { z } from "@hono/zod-openapi";
import { auditActorKinds, auditOutcomes } from "../../shared/db/schema";

export const MAX_PAGE = 100;
const DEFAULT_PAGE = 50;

const when = (what: string) =>
  z.iso.datetime({ offset: true, message: "must be an ISO 8601 time, e.g. 2026-12-01T08:00:00Z" }).optional().openapi({ description: what });

/** What a person may filter their own events by. */
export const OwnAuditQuery = z.object({
  action: z
    .string()
    .trim()
    .max(100, "must be at most 100 characters")
    .optional()
    .openapi({ description: "An action (device.add), or every action under a prefix ending in a dot (device.)" }),
  from: when("Events at or after this time"),
  to: when("Events before this time"),
  cursor: z.string().max(200).optional().openapi({ description: "nextCursor of the previous page" }),
  limit: z.coerce.number().int("must be a whole number").min(1, "must be at least 1").max(MAX_PAGE, `must be at most ${MAX_PAGE}`).default(DEFAULT_PAGE),
});

/** An administrator's filters: also who acted and on what. */
export const AdminAuditQuery = OwnAuditQuery.extend({
  actor: z
    .string()
    .trim()
    .max(320)
    .optional()
    .openapi({ description: "A person's id, e-mail address or username (their own and their tokens' actions), or system / anonymous" }),
  target: z.string().trim().max(300).optional().openapi({ description: "A target type (device), or type:id (device:3f2c…)" }),
});

export type AuditQuery = z.output<typeof AdminAuditQuery>;

export const AuditEventSchema = z
  .object({
    id: z.uuid(),
    at: z.string(),
    actor: z.object({
      kind: z.enum(auditActorKinds),
      userId: z.uuid().nullable(),
      tokenId: z.uuid().nullable().openapi({ description: "The API token the person acted through" }),
    }),
    subjectUserId: z.uuid().nullable().openapi({ description: "Whose account or thing it concerns" }),
    action: z.string().openapi({ example: "device.add" }),
    target: z.object({ type: z.string(), id: z.string() }).nullable(),
    outcome: z.enum(auditOutcomes).openapi({ description: "pending: a job was submitted; its end follows as an event with the same jobId" }),
    ip: z.string().nullable().openapi({ description: "The client's address (as TRUST_PROXY allows); for a person, only on their own actions" }),
    requestId: z.string().nullable(),
    jobId: z.uuid().nullable(),
    detail: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi("AuditEvent");

export const AuditPageSchema = z
  .object({ events: z.array(AuditEventSchema), nextCursor: z.string().nullable().openapi({ description: "Pass as cursor for older events; null at the end" }) })
  .openapi("AuditPage");

export type AuditEventJson = z.infer<typeof AuditEventSchema>;

import { and, desc, eq, getTableColumns, gte, like, lt, or, type SQL, sql } from "drizzle-orm";
import type { Db } from "../../shared/db";
import { auditEvents, type AuditActorKind, type AuditEvent } from "../../shared/db/schema";

export interface AuditFilter {
  /** A person's own view: what they did, or what was done to their things. */
  person?: string;
  actorUserId?: string;
  actorKind?: AuditActorKind;
  action?: string;
  targetType?: string;
  targetId?: string;
  from?: Date;
  to?: Date;
  /** Older than this event (the previous page's last). */
  before?: { at: string; id: string };
  limit: number;
}

export type AuditRow = AuditEvent & { cursorAt: string };

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (ch) => `\\${ch}`);

/** Newest first; each row with its time at full precision, for the next page's cursor. */
export function auditEventsWhere(db: Db, f: AuditFilter): Promise<AuditRow[]> {
  const conditions: (SQL | undefined)[] = [
    f.person ? or(eq(auditEvents.actorUserId, f.person), eq(auditEvents.subjectUserId, f.person)) : undefined,
    f.actorUserId ? eq(auditEvents.actorUserId, f.actorUserId) : undefined,
    f.actorKind ? eq(auditEvents.actorKind, f.actorKind) : undefined,
    f.action ? (f.action.endsWith(".") ? like(auditEvents.action, `${escapeLike(f.action)}%`) : eq(auditEvents.action, f.action)) : undefined,
    f.targetType ? eq(auditEvents.targetType, f.targetType) : undefined,
    f.targetId ? eq(auditEvents.targetId, f.targetId) : undefined,
    f.from ? gte(auditEvents.at, f.from) : undefined,
    f.to ? lt(auditEvents.at, f.to) : undefined,
    f.before ? sql`(${auditEvents.at}, ${auditEvents.id}) < (${f.before.at}::timestamptz, ${f.before.id}::uuid)` : undefined,
  ];
  return db
    .select({ ...getTableColumns(auditEvents), cursorAt: sql<string>`${auditEvents.at}::text` })
    .from(auditEvents)
    .where(and(...conditions))
    .orderBy(desc(auditEvents.at), desc(auditEvents.id))
    .limit(f.limit);
}


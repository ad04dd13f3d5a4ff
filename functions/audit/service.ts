import { z } from "zod";
import type { AuditActorKind } from "../../shared/db/schema";
import { findUserByLogin } from "../auth/users";
import { invalid } from "../core/errors";
import type { Services } from "../services";
import { type AuditFilter, type AuditRow, auditEventsWhere } from "./queries";
import type { AuditQuery } from "./schemas";

export interface AuditPage {
  events: AuditRow[];
  nextCursor: string | null;
}

const Cursor = z.tuple([z.string().min(1).max(64), z.uuid()]);

const encodeCursor = (row: AuditRow) => Buffer.from(JSON.stringify([row.cursorAt, row.id])).toString("base64url");

function decodeCursor(text: string): AuditFilter["before"] {
  try {
    const [at, id] = Cursor.parse(JSON.parse(Buffer.from(text, "base64url").toString()));
    if (Number.isNaN(Date.parse(at))) throw new Error("not a time");
    return { at, id };
  } catch {
    throw invalid("cursor", "is not a nextCursor this API gave");
  }
}

const ACTOR_KINDS = new Set<string>(["system", "anonymous"]);

/** Who `actor` names: a kind, a person's id, e-mail address or username (someone unknown matches nothing). */
async function actorFilter(s: Services, actor: string): Promise<Pick<AuditFilter, "actorUserId" | "actorKind"> | undefined> {
  if (ACTOR_KINDS.has(actor)) return { actorKind: actor as AuditActorKind };
  if (z.uuid().safeParse(actor).success) return { actorUserId: actor };
  const user = await findUserByLogin(s.db, actor);
  return user ? { actorUserId: user.id } : undefined;
}

/**
 * One page of events, newest first. `person`: only that person's (what they did and what was done
 * to their things); otherwise an administrator's view with the actor and target filters.
 */
export async function auditPage(s: Services, query: Partial<AuditQuery> & { limit: number }, person?: string): Promise<AuditPage> {
  const filter: AuditFilter = {
    person,
    action: query.action || undefined,
    from: query.from ? new Date(query.from) : undefined,
    to: query.to ? new Date(query.to) : undefined,
    before: query.cursor ? decodeCursor(query.cursor) : undefined,
    limit: query.limit + 1,
  };
  if (query.actor) {
    const actor = await actorFilter(s, query.actor);
    if (!actor) return { events: [], nextCursor: null };
    Object.assign(filter, actor);
  }
  if (query.target) {
    const [type, ...id] = query.target.split(":");
    filter.targetType = type;
    if (id.length) filter.targetId = id.join(":");
  }
  const rows = await auditEventsWhere(s.db, filter);
  const events = rows.slice(0, query.limit);
  return { events, nextCursor: rows.length > query.limit ? encodeCursor(events.at(-1)!) : null };
}

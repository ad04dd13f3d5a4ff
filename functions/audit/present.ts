import type { AuditRow } from "./queries";
import type { AuditEventJson } from "./schemas";

/**
 * An event as the API shows it. `viewer`: a person reading their own log sees where an
 * administrator acted from, or through which token, only for their own actions.
 */
export function presentAuditEvent(e: AuditRow, viewer?: string): AuditEventJson {
  const own = viewer === undefined || e.actorUserId === viewer;
  return {
    id: e.id,
    at: e.at.toISOString(),
    actor: { kind: e.actorKind, userId: e.actorUserId, tokenId: own ? e.actorTokenId : null },
    subjectUserId: e.subjectUserId,
    action: e.action,
    target: e.targetType ? { type: e.targetType, id: e.targetId ?? "" } : null,
    outcome: e.outcome,
    ip: own ? e.ip : null,
    requestId: e.requestId,
    jobId: e.jobId,
    detail: e.detail,
  };
}

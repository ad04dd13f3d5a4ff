import type { WebhookEndpoint } from "../../shared/db/schema";
import type { AttemptRow, DeliveryRow } from "./queries";
import type { AttemptJson, DeliveryJson, WebhookJson } from "./schemas";
import { messageId } from "./signature";

export function presentWebhook(e: WebhookEndpoint, now = Date.now()): WebhookJson {
  const previousUntil = e.previousSecretEncrypted && e.previousSecretExpiresAt && e.previousSecretExpiresAt.getTime() > now ? e.previousSecretExpiresAt.toISOString() : null;
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    events: e.events,
    enabled: e.enabled,
    disabledReason: e.disabledReason,
    previousSecretUntil: previousUntil,
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
  };
}

export function presentAttempt({ attempt: a, eventId, state, type }: AttemptRow): AttemptJson {
  return {
    id: a.id,
    deliveryId: a.deliveryId,
    webhookId: messageId(eventId),
    event: type,
    attempt: a.attempt,
    statusCode: a.statusCode,
    durationMs: a.durationMs,
    error: a.error,
    deliveryState: state,
    nextAttemptAt: a.nextAttemptAt?.toISOString() ?? null,
    createdAt: a.createdAt.toISOString(),
  };
}

export function presentDelivery(d: DeliveryRow): DeliveryJson {
  return {
    id: d.id,
    webhookId: messageId(d.eventId),
    event: d.type,
    state: d.state,
    attempts: d.attempts,
    nextAttemptAt: d.state === "pending" ? d.nextAttemptAt.toISOString() : null,
  };
}

import { randomUUID } from "node:crypto";
import type { Db } from "../../shared/db";
import type { WebhookEndpoint } from "../../shared/db/schema";
import { AppError } from "../core/errors";
import type { Services } from "../services";
import { allowedAddresses, DestinationError, resolverOf } from "./destination";
import { TEST_EVENT } from "./events";
import {
  attemptsOfEndpoint,
  countEndpoints,
  deleteEndpoint,
  deliveryOfEndpoint,
  type DeliveryRow,
  endpointOfUser,
  endpointsOfUser,
  failPendingDeliveries,
  insertEndpoint,
  insertSingleDelivery,
  retryDelivery,
  updateEndpoint,
  type AttemptRow,
} from "./queries";
import { enforceQuota } from "../quotas/limits";
import { boxOf, sealSecret } from "./secrets";
import { newSecret } from "./signature";

/** How long a rotated-out secret keeps signing beside the new one. */
export const PREVIOUS_SECRET_MS = 24 * 60 * 60 * 1000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const noSuchWebhook = () => new AppError("not_found", "no webhook endpoint of yours with that id");

export interface EndpointWithSecret {
  endpoint: WebhookEndpoint;
  secret: string;
}

/**
 * The URL's host must not be (or resolve to) a loopback, private or link-local address, unless
 * KWS_WEBHOOK_ALLOW_PRIVATE: checked here for a clear 400, and again at every attempt.
 */
async function checkDestination(s: Services, url: string): Promise<void> {
  if (s.config.webhooks.allowPrivate) return;
  try {
    await allowedAddresses(new URL(url).hostname, resolverOf(s.config), s.config.webhooks.allowPrivate);
  } catch (err) {
    if (!(err instanceof DestinationError)) throw err;
    const rule = `must reach a public address: ${err.message}${s.config.webhooks.allowPrivate ? "" : " (KWS_WEBHOOK_ALLOW_PRIVATE=true allows that)"}`;
    throw new AppError("invalid", `url: ${rule}`, { issues: [{ path: "url", message: rule }] });
  }
}

export function listWebhooks(s: Services, userId: string): Promise<WebhookEndpoint[]> {
  return endpointsOfUser(s.db, userId);
}

async function ownEndpoint(db: Db, userId: string, id: string): Promise<WebhookEndpoint> {
  const row = UUID.test(id) ? await endpointOfUser(db, userId, id) : undefined;
  if (!row) throw noSuchWebhook();
  return row;
}

/** A new endpoint with its secret (returned this once, kept encrypted); as many as the person's `webhooks` quota. */
export async function createWebhook(s: Services, userId: string, body: { url: string; events: string[]; description?: string }): Promise<EndpointWithSecret> {
  boxOf(s.secretBox);
  await checkDestination(s, body.url);
  const id = randomUUID();
  const secret = newSecret();
  const secretEncrypted = await sealSecret(s.secretBox, id, secret);
  const endpoint = await s.db.transaction(async (tx) => {
    await enforceQuota(tx, s.config, userId, "webhooks", () => countEndpoints(tx, userId));
    return insertEndpoint(tx, { id, userId, url: body.url, events: body.events, description: body.description ?? "", secretEncrypted });
  });
  return { endpoint, secret };
}

/** Changes url, events, description or enabled; disabling fails what was still to be sent, enabling clears KWS's reason. */
export async function changeWebhook(
  s: Services,
  userId: string,
  id: string,
  body: { url?: string; events?: string[]; description?: string; enabled?: boolean },
): Promise<WebhookEndpoint> {
  const current = await ownEndpoint(s.db, userId, id);
  if (body.url !== undefined && body.url !== current.url) await checkDestination(s, body.url);
  return s.db.transaction(async (tx) => {
    const enabledChange =
      body.enabled === undefined || body.enabled === current.enabled ? {} : body.enabled ? { enabled: true, disabledReason: null, failingSince: null } : { enabled: false };
    const updated = await updateEndpoint(tx, current.id, {
      ...(body.url !== undefined ? { url: body.url } : {}),
      ...(body.events !== undefined ? { events: body.events } : {}),
      ...(body.description !== undefined ? { description: body.description } : {}),
      ...enabledChange,
    });
    if (body.enabled === false) await failPendingDeliveries(tx, current.id);
    return updated;
  });
}

export async function removeWebhook(s: Services, userId: string, id: string): Promise<void> {
  await deleteEndpoint(s.db, (await ownEndpoint(s.db, userId, id)).id);
}

/** A new secret; the current one keeps signing beside it for 24 h, so receivers can switch without a gap. */
export async function rotateSecret(s: Services, userId: string, id: string): Promise<EndpointWithSecret> {
  const current = await ownEndpoint(s.db, userId, id);
  const secret = newSecret();
  const endpoint = await updateEndpoint(s.db, current.id, {
    secretEncrypted: await sealSecret(s.secretBox, current.id, secret),
    previousSecretEncrypted: current.secretEncrypted,
    previousSecretExpiresAt: new Date(Date.now() + PREVIOUS_SECRET_MS),
  });
  return { endpoint, secret };
}

/** Sends a `webhook.test` event to this endpoint alone (whatever it subscribed to). */
export async function testWebhook(s: Services, userId: string, id: string): Promise<DeliveryRow> {
  const endpoint = await ownEndpoint(s.db, userId, id);
  if (!endpoint.enabled) throw new AppError("conflict", "the endpoint is disabled; enable it first");
  const payload = { type: TEST_EVENT, timestamp: new Date().toISOString(), data: { webhook: { id: endpoint.id, url: endpoint.url } } };
  const { delivery, type } = await s.db.transaction((tx) => insertSingleDelivery(tx, userId, endpoint.id, payload));
  return { ...delivery, type };
}

export async function deliveryLog(s: Services, userId: string, id: string): Promise<AttemptRow[]> {
  return attemptsOfEndpoint(s.db, (await ownEndpoint(s.db, userId, id)).id);
}

/** One more attempt of a delivery, now (the same webhook-id). */
export async function retryWebhookDelivery(s: Services, userId: string, id: string, deliveryId: string): Promise<DeliveryRow> {
  const endpoint = await ownEndpoint(s.db, userId, id);
  const delivery = UUID.test(deliveryId) ? await deliveryOfEndpoint(s.db, endpoint.id, deliveryId) : undefined;
  if (!delivery) throw new AppError("not_found", "no delivery of this endpoint with that id");
  if (!endpoint.enabled) throw new AppError("conflict", "the endpoint is disabled; enable it first");
  return s.db.transaction((tx) => retryDelivery(tx, delivery.id));
}

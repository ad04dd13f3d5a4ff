import { and, count, desc, eq, sql } from "drizzle-orm";
import type { Db } from "../../shared/db";
import { WEBHOOK_CHANNEL } from "./outbox";
import { webhookAttempts, webhookDeliveries, webhookEndpoints, webhookEvents, type WebhookDelivery, type WebhookEndpoint } from "../../shared/db/schema";

/** Wakes the workers at the commit. */
const notifyWorkers = sql`select pg_notify(${WEBHOOK_CHANNEL}::text, '')`;

export function endpointsOfUser(db: Db, userId: string): Promise<WebhookEndpoint[]> {
  return db.select().from(webhookEndpoints).where(eq(webhookEndpoints.userId, userId)).orderBy(webhookEndpoints.createdAt);
}

export async function endpointOfUser(db: Db, userId: string, id: string): Promise<WebhookEndpoint | undefined> {
  const [row] = await db.select().from(webhookEndpoints).where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.userId, userId)));
  return row;
}

export async function countEndpoints(db: Db, userId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(webhookEndpoints).where(eq(webhookEndpoints.userId, userId));
  return row?.n ?? 0;
}

export async function insertEndpoint(db: Db, values: typeof webhookEndpoints.$inferInsert): Promise<WebhookEndpoint> {
  const [row] = await db.insert(webhookEndpoints).values(values).returning();
  return row!;
}

export async function updateEndpoint(db: Db, id: string, values: Partial<typeof webhookEndpoints.$inferInsert>): Promise<WebhookEndpoint> {
  const [row] = await db.update(webhookEndpoints).set({ ...values, updatedAt: new Date() }).where(eq(webhookEndpoints.id, id)).returning();
  return row!;
}

export async function deleteEndpoint(db: Db, id: string): Promise<void> {
  await db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id));
}

/** A disabled endpoint sends nothing more: what was still to be sent to it fails. */
export async function failPendingDeliveries(db: Db, endpointId: string): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({ state: "failed", leaseId: null, updatedAt: new Date() })
    .where(and(eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.state, "pending")));
}

/** An event for one endpoint alone (the test event), due at once. */
export async function insertSingleDelivery(db: Db, userId: string, endpointId: string, payload: { type: string; timestamp: string; data: unknown }) {
  const [event] = await db.insert(webhookEvents).values({ userId, type: payload.type, payload }).returning();
  const [delivery] = await db.insert(webhookDeliveries).values({ endpointId, eventId: event!.id }).returning();
  await db.execute(notifyWorkers);
  return { delivery: delivery!, type: event!.type };
}

export type DeliveryRow = WebhookDelivery & { type: string };

export async function deliveryOfEndpoint(db: Db, endpointId: string, id: string): Promise<DeliveryRow | undefined> {
  const [row] = await db
    .select({ delivery: webhookDeliveries, type: webhookEvents.type })
    .from(webhookDeliveries)
    .innerJoin(webhookEvents, eq(webhookEvents.id, webhookDeliveries.eventId))
    .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.endpointId, endpointId)));
  return row && { ...row.delivery, type: row.type };
}

/** Makes a delivery due now, as one more attempt (a lease held by a worker is taken away: its late result is not recorded). */
export async function retryDelivery(db: Db, id: string): Promise<DeliveryRow> {
  const [row] = await db
    .update(webhookDeliveries)
    .set({ state: "pending", nextAttemptAt: sql`now()`, leaseId: null, updatedAt: new Date() })
    .where(eq(webhookDeliveries.id, id))
    .returning();
  await db.execute(notifyWorkers);
  const [event] = await db.select({ type: webhookEvents.type }).from(webhookEvents).where(eq(webhookEvents.id, row!.eventId));
  return { ...row!, type: event!.type };
}

/** The endpoint's last `limit` attempts, newest first, with their event and their delivery's state. */
export function attemptsOfEndpoint(db: Db, endpointId: string, limit = 100) {
  return db
    .select({ attempt: webhookAttempts, eventId: webhookDeliveries.eventId, state: webhookDeliveries.state, type: webhookEvents.type })
    .from(webhookAttempts)
    .innerJoin(webhookDeliveries, eq(webhookDeliveries.id, webhookAttempts.deliveryId))
    .innerJoin(webhookEvents, eq(webhookEvents.id, webhookDeliveries.eventId))
    .where(eq(webhookAttempts.endpointId, endpointId))
    .orderBy(desc(webhookAttempts.createdAt))
    .limit(limit);
}

export type AttemptRow = Awaited<ReturnType<typeof attemptsOfEndpoint>>[number];

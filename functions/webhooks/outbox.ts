import { sql } from "drizzle-orm";
import type { Db } from "../../shared/db";
import type { WebhookEventType } from "./events";

/** The channel a worker listens on: a NOTIFY at the commit of each recorded event wakes it. */
export const WEBHOOK_CHANNEL = "kws_webhooks";

/**
 * Records that `type` happened to a resource of `userId`, inside the caller's transaction (the
 * outbox): the event and one delivery per enabled endpoint of theirs that subscribed to it commit
 * or roll back with the change itself. Nothing is written when no endpoint listens. `data` is the
 * resource as the API presents it.
 */
export async function recordEvent(tx: Db, userId: string, type: WebhookEventType, data: unknown): Promise<void> {
  const payload = JSON.stringify({ type, timestamp: new Date().toISOString(), data });
  await tx.execute(sql`
    with listening as (
      select id from webhook_endpoints where user_id = ${userId}::uuid and enabled and ${type}::text = any(events)
    ), event as (
      insert into webhook_events (user_id, type, payload)
      select ${userId}::uuid, ${type}::text, ${payload}::jsonb where exists (select from listening)
      returning id
    ), delivery as (
      insert into webhook_deliveries (endpoint_id, event_id) select listening.id, event.id from listening cross join event
      returning id
    )
    select pg_notify(${WEBHOOK_CHANNEL}::text, '') from (select from delivery limit 1) as made`);
}

/** Every event type an endpoint may subscribe to; capabilities record them through the outbox. */
export const webhookEventTypes = [
  "instance.deployed",
  "instance.failed",
  "instance.started",
  "instance.stopped",
  "instance.deleted",
  "device.added",
  "device.removed",
  "device.online",
  "device.offline",
  "pg.user.created",
  "pg.user.deleted",
  "pg.database.created",
  "pg.database.deleted",
  "app.published",
  "app.removed",
  "job.failed",
] as const;

export type WebhookEventType = (typeof webhookEventTypes)[number];

/** Sent by POST /webhooks/:id/test only, to that endpoint, whatever it subscribed to. */
export const TEST_EVENT = "webhook.test";

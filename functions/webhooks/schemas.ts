import { z } from "@hono/zod-openapi";
import { webhookDeliveryStates } from "../../shared/db/schema";
import { webhookEventTypes } from "./events";


export const WebhookUrl = z
  .string({ message: "must be a string" })
  .trim()
  .max(2048, "must be at most 2048 characters")
  .pipe(z.url({ protocol: /^https?$/, message: "must be an http:// or https:// URL" }))
  // A malformed URL is the pipe's issue already.
  .refine((v) => !URL.canParse(v) || (new URL(v).username === "" && new URL(v).password === ""), "must not carry a user name or password")
  .openapi({ example: "https://ci.example.org/kws-events" });

export const EventList = z
  .array(z.enum(webhookEventTypes, { message: `must be one of ${webhookEventTypes.join(", ")}` }), { message: "must be a list of event types" })
  .min(1, "must name at least one event type")
  .transform((list) => [...new Set(list)])
  .openapi({ example: ["instance.deployed", "instance.failed"] });

const description = z.string({ message: "must be a string" }).trim().max(200, "must be at most 200 characters");

export const CreateWebhookBody = z.object({ url: WebhookUrl, events: EventList, description: description.optional() }).openapi("CreateWebhook");

export const UpdateWebhookBody = z
  .object({ url: WebhookUrl.optional(), events: EventList.optional(), description: description.optional(), enabled: z.boolean({ message: "must be true or false" }).optional() })
  .openapi("UpdateWebhook");

/** Any string: an id that is not a uuid is simply none of the person's (404). */
export const WebhookParam = z.object({ id: z.string() });
export const DeliveryParam = z.object({ id: z.string(), deliveryId: z.string() });

export const WebhookSchema = z
  .object({
    id: z.uuid(),
    url: z.string(),
    description: z.string(),
    events: z.array(z.string()),
    enabled: z.boolean(),
    disabledReason: z.string().nullable().openapi({ description: "Why KWS disabled it (410 Gone, 5 days of failures); null otherwise" }),
    previousSecretUntil: z.string().nullable().openapi({ description: "After a rotation: until when the previous secret still signs beside the new one" }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Webhook");

export const WebhookResponse = z.object({ webhook: WebhookSchema }).openapi("WebhookResponse");
export const WebhookWithSecret = z
  .object({ webhook: WebhookSchema, secret: z.string().openapi({ description: "whsec_…: shown this once; verify signatures with it", example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }) })
  .openapi("WebhookWithSecret");
export const WebhookListSchema = z.object({ webhooks: z.array(WebhookSchema) }).openapi("WebhookList");

export const AttemptSchema = z
  .object({
    id: z.uuid(),
    deliveryId: z.uuid(),
    webhookId: z.string().openapi({ description: "The webhook-id header: the same on every attempt of the event" }),
    event: z.string().openapi({ example: "instance.deployed" }),
    attempt: z.number().int(),
    statusCode: z.number().int().nullable(),
    durationMs: z.number().int(),
    error: z.string().nullable(),
    deliveryState: z.enum(webhookDeliveryStates),
    nextAttemptAt: z.string().nullable().openapi({ description: "When the delivery is tried again after this attempt; null: it ended" }),
    createdAt: z.string(),
  })
  .openapi("WebhookAttempt");

export const DeliveryLogSchema = z.object({ attempts: z.array(AttemptSchema) }).openapi("WebhookDeliveryLog");

export const DeliverySchema = z
  .object({ id: z.uuid(), webhookId: z.string(), event: z.string(), state: z.enum(webhookDeliveryStates), attempts: z.number().int(), nextAttemptAt: z.string().nullable() })
  .openapi("WebhookDelivery");
export const DeliveryResponse = z.object({ delivery: DeliverySchema }).openapi("WebhookDeliveryResponse");

export type WebhookJson = z.infer<typeof WebhookSchema>;
export type AttemptJson = z.infer<typeof AttemptSchema>;
export type DeliveryJson = z.infer<typeof DeliverySchema>;

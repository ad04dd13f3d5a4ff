import { createHmac, randomBytes } from "node:crypto";

const PREFIX = "whsec_";

/** A new endpoint secret: `whsec_` + base64 of 32 random bytes (Standard Webhooks). */
export const newSecret = () => PREFIX + randomBytes(32).toString("base64");

/**
 * The Standard Webhooks headers of one attempt: `webhook-signature` holds `v1,<base64 HMAC-SHA256
 * of "id.timestamp.body">` once per active secret, space-separated (two while a rotated-out secret
 * still signs).
 */
export function signedHeaders(secrets: readonly string[], id: string, timestamp: number, body: string): Record<string, string> {
  const content = `${id}.${timestamp}.${body}`;
  const signatures = secrets.map((secret) => `v1,${createHmac("sha256", Buffer.from(secret.slice(PREFIX.length), "base64")).update(content).digest("base64")}`);
  return { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signatures.join(" ") };
}

/** The message id of an event, the same for every attempt and every endpoint. */
export const messageId = (eventId: string) => `msg_${eventId}`;

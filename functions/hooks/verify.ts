import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import type { HookProvider } from "../../shared/db/schema";
import { AppError, invalid } from "../core/errors";

/** What a verified delivery says about itself. */
export interface SignedDelivery {
  /** The provider's id of the delivery, the same when it is sent again. */
  deliveryId: string;
  event: string | null;
  /** GitHub's ping when a hook is added there: answered, nothing runs. */
  ping: boolean;
}

type Header = (name: string) => string | undefined;

/** A secret of the provider's kind: Standard Webhooks' `whsec_` + base64, a hex string for the others. */
export function newSecret(provider: HookProvider): string {
  const bytes = randomBytes(32);
  return provider === "standard" ? `whsec_${bytes.toString("base64")}` : bytes.toString("hex");
}

const refused = (why: string) => new AppError("unauthorized", `delivery refused: ${why}`);

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function githubSigned(secret: string, header: Header, body: Buffer): void {
  const given = header("x-hub-signature-256");
  if (!given) throw refused("X-Hub-Signature-256 is missing");
  const expected = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
  if (!sameText(given.toLowerCase(), expected)) throw refused("X-Hub-Signature-256 does not match the body signed with this hook's secret");
}

function gitlabSigned(secret: string, header: Header): void {
  const given = header("x-gitlab-token");
  if (!given) throw refused("X-Gitlab-Token is missing");
  if (!sameText(given, secret)) throw refused("X-Gitlab-Token is not this hook's secret");
}

/** Standard Webhooks through its reference implementation: signature of id.timestamp.body, timestamp within 5 minutes. */
function standardSigned(secret: string, header: Header, body: Buffer): void {
  const headers = { "webhook-id": header("webhook-id") ?? "", "webhook-timestamp": header("webhook-timestamp") ?? "", "webhook-signature": header("webhook-signature") ?? "" };
  try {
    new Webhook(secret).verify(body, headers, { jsonParse: false });
  } catch (err) {
    if (err instanceof WebhookVerificationError) throw refused(`Standard Webhooks headers: ${err.message.toLowerCase()}`);
    throw err;
  }
}

const deliveryHeader: Record<HookProvider, string> = { github: "x-github-delivery", gitlab: "x-gitlab-event-uuid", standard: "webhook-id" };

/** The event a Standard Webhooks payload names (`{type, timestamp, data}`), if it is one. */
function standardEvent(body: Buffer): string | null {
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    const type = (parsed as { type?: unknown } | null)?.type;
    return typeof type === "string" ? type.slice(0, 200) : null;
  } catch {
    return null;
  }
}

/**
 * Checks a delivery the provider's way, or throws 401 (nothing else happens). Then its delivery id
 * is required, for replays to be recognised.
 */
export function verifyDelivery(provider: HookProvider, secret: string, header: Header, body: Buffer): SignedDelivery {
  if (provider === "github") githubSigned(secret, header, body);
  else if (provider === "gitlab") gitlabSigned(secret, header);
  else standardSigned(secret, header, body);
  const name = deliveryHeader[provider];
  const deliveryId = header(name);
  if (!deliveryId || deliveryId.length > 200) throw invalid(name, "must be sent, with at most 200 characters: it identifies the delivery");
  const event = provider === "github" ? header("x-github-event") : provider === "gitlab" ? header("x-gitlab-event") : standardEvent(body);
  return { deliveryId, event: event?.slice(0, 200) ?? null, ping: provider === "github" && event === "ping" };
}

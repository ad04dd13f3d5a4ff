import { z } from "zod";
import { inArray } from "drizzle-orm";
import type { Database } from "../../../shared/db";
import { coalesce } from "../../../shared/db/coalesce";
import { perDatabase } from "../../../shared/db/per-database";
import { hosts } from "../../../shared/db/schema";
import type { Logger } from "../../../shared/logger";
import type { QueuePort } from "../../../shared/queue/port";

/**
 * The jobs table is the durable store of what each host has yet to receive. RabbitMQ carries only
 * notices, one transient queue per gateway process (nothing per host, so 10,000 hosts cost the broker
 * nothing): a lost notice costs time, not a job, because gateways also look for work on every hello
 * and every few seconds.
 */
export const gatewayQueue = (gatewayId: string) => `kws.gateway.${gatewayId}`;

export const GatewayNoticeSchema = z.discriminatedUnion("type", [
  /** The host has new jobs: its session claims them now instead of at the next rescan. */
  z.object({ type: z.literal("jobs"), hostId: z.string() }),
  /** Another gateway holds the host now: the old connection ends (one connection per host across processes). */
  z.object({ type: z.literal("replaced"), hostId: z.string(), connectionId: z.string() }),
]);
export type GatewayNotice = z.infer<typeof GatewayNoticeSchema>;

/** Deliveries of a job before it is dead-lettered (failed with attempts_exhausted). */
export const JOB_MAX_ATTEMPTS = 3;

/** Sends a notice; a gateway that is gone (its queue with it) or a broker that is down loses it, harmlessly. */
export async function notifyGateway(queue: QueuePort, log: Logger, gatewayId: string, notice: GatewayNotice): Promise<void> {
  try {
    await queue.publish(gatewayQueue(gatewayId), notice);
  } catch (err) {
    log.debug("gateway notice not delivered; its rescan finds the work", { gatewayId, notice, err });
  }
}

/** The gateways holding hosts now (absent: offline). The lookups that arrive together share one query. */
const holders = perDatabase((db) =>
  coalesce(async (hostIds: string[]) => {
    const rows = await db.select({ id: hosts.id, gatewayId: hosts.gatewayId }).from(hosts).where(inArray(hosts.id, [...new Set(hostIds)]));
    const byId = new Map(rows.map((r) => [r.id, r.gatewayId]));
    return hostIds.map((id) => byId.get(id) ?? null);
  }),
);

export function gatewayOf(db: Database, hostId: string): Promise<string | null> {
  return holders(db)(hostId);
}

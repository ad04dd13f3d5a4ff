import { randomBytes } from "node:crypto";
import type { Database } from "../../shared/db";
import { hosts } from "../../shared/db/schema";

/**
 * A host row that placement takes as online, with room and a WireGuard interface, but no agent
 * behind it: jobs for it stay queued. For tests of what the API and pages answer around a job.
 */
export async function insertOnlineHost(db: Database, name = `host-${randomBytes(4).toString("hex")}`) {
  const now = new Date();
  const [host] = await db
    .insert(hosts)
    .values({
      name,
      connectionId: "test-connection",
      connectedAt: now,
      // Ahead of the clock, so it stays online for the whole test without an agent's pongs.
      lastHeartbeatAt: new Date(now.getTime() + 3_600_000),
      facts: {
        cpus: 2,
        memoryBytes: 64 * 2 ** 30,
        diskFreeBytes: 100 * 2 ** 30,
        runningInstances: 0,
        instances: 0,
        wireguard: { interface: "wg0", publicKey: randomBytes(32).toString("base64"), listenPort: 51820, address: "10.8.0.1/24", endpoint: "203.0.113.7:51820" },
      },
    })
    .returning();
  return host!;
}

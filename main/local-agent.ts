import { eq } from "drizzle-orm";
import { join } from "node:path";
import { Agent } from "../agent/agent";
import { enroll } from "../agent/enroll";
import { findLxdSocket } from "../agent/lxd/socket";
import { StateDir } from "../agent/state";
import { agentVersion } from "../agent/version";
import { hosts } from "../shared/db/schema";
import { insertHost } from "../functions/hosts/store";
import type { Logger } from "../shared/logger";
import { newEnrollment } from "../functions/hosts/enrollment";
import type { Services } from "../functions/services";

export const LOCAL_HOST_NAME = "local";

/**
 * The embedded setup's agent (ARCHITECTURE decision 8): when LXD answers on this machine, `npm
 * start` runs an agent for it in the same process, enrolled once as the host "local" (its
 * credential kept in $KWS_DATA_DIR/agent, 0600), so a person can deploy an instance with nothing
 * else installed. It talks to the gateway over the same websocket any agent uses.
 */
export async function startLocalAgent(services: Services, logger: Logger, gatewayUrl: string): Promise<Agent | undefined> {
  const { config, db } = services;
  const socket = findLxdSocket();
  if (config.localAgent.mode === "off" || (config.localAgent.mode === "auto" && !socket)) return undefined;
  const log = logger.child({ component: "local-agent" });
  const stateDir = join(config.dataDir, "agent");
  const state = new StateDir({ dir: stateDir });
  await state.ensure();
  let credential = await state.loadCredential();
  const [existing] = await db.select().from(hosts).where(eq(hosts.name, LOCAL_HOST_NAME));
  if (!credential || !existing || existing.id !== credential.hostId) {
    if (existing) {
      log.warn(`a host named "${LOCAL_HOST_NAME}" exists but this data directory has no credential for it; leaving it alone`, { hostId: existing.id });
      return undefined;
    }
    const { token, ...enrollment } = await newEnrollment();
    // People reach this machine at PUBLIC_URL's host name: devices dial it too (an IPv6 one unbracketed).
    await insertHost(db, { name: LOCAL_HOST_NAME, publicAddress: new URL(config.publicUrl).hostname.replace(/^\[(.*)\]$/, "$1"), ...enrollment });
    credential = await enroll({ gatewayUrl, token, state });
    log.info("enrolled this machine as a host", { hostId: credential.hostId });
  }
  const agent = new Agent({
    stateDir,
    credential,
    gatewayUrl,
    agentVersion: agentVersion(),
    logger: logger.child({ service: "kws-agent" }),
    ...(socket ? { lxdSocket: socket } : {}),
    ...(config.localAgent.wireguard ? { wireguard: {} } : {}),
    // The ingress of this process reaches this machine's instances through it.
    streams: {},
  });
  await agent.start();
  return agent;
}

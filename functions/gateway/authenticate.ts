import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { hashToken } from "../../shared/crypto/tokens";
import type { Database } from "../../shared/db";
import type { Host } from "../../shared/db/schema";
import { hostByCredential } from "../hosts/store";
import type { Logger } from "../../shared/logger";
import { rejectUpgrade, upgradePath, type UpgradeHandler } from "../upgrades";

/**
 * The host whose credential (`Authorization: Bearer …`) came with an agent's upgrade request;
 * otherwise the socket is answered 401 (or 503 when the database is away) and undefined returned,
 * so a wrong credential never gets a websocket.
 */
export async function authenticateAgent(db: Database, req: IncomingMessage, socket: Duplex, log: Logger): Promise<Host | undefined> {
  const credential = req.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
  let host;
  try {
    host = credential ? await hostByCredential(db, await hashToken(credential)) : undefined;
  } catch (err) {
    log.error("agent authentication failed", { err });
    rejectUpgrade(socket, 503, "unavailable", "Service Unavailable");
    return undefined;
  }
  if (!host) {
    log.warn("agent refused: bad credential", { remote: req.socket.remoteAddress, path: req.url });
    rejectUpgrade(socket, 401, "unauthorized", "Unauthorized");
    return undefined;
  }
  return host;
}

/**
 * An upgrade handler for one agent endpoint (`path`, under any prefix): authenticates the host,
 * then hands the upgrade to `accept`.
 */
export function agentEndpoint(
  path: string,
  db: Database,
  log: Logger,
  accept: (host: Host, req: IncomingMessage, socket: Duplex, head: Buffer) => void,
): UpgradeHandler {
  return (req, socket, head) => {
    if (!upgradePath(req).endsWith(path)) return false;
    socket.on("error", () => socket.destroy());
    void authenticateAgent(db, req, socket, log).then((host) => host && accept(host, req, socket, head));
    return true;
  };
}

import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { User } from "../../shared/db/schema";
import type { Logger } from "../../shared/logger";
import type { Services } from "../services";
import { rejectUpgrade } from "../upgrades";
import { liveApiToken } from "./api-tokens";

/**
 * The person whose full API token (`Authorization: Bearer kws_…`) came with a websocket upgrade of
 * the CLI (`kws ssh`, `kws tunnel`); otherwise the socket is answered 401 or 403 (a read-only
 * token: these streams write) and undefined returned.
 */
export async function authenticateUpgrade(s: Pick<Services, "db">, req: IncomingMessage, socket: Duplex, log: Logger): Promise<User | undefined> {
  const bearer = req.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
  let token;
  try {
    token = bearer ? await liveApiToken(s.db, bearer) : null;
  } catch (err) {
    log.error("authenticating an upgrade failed", { err });
    rejectUpgrade(socket, 503, "unavailable", "the database is not available; try again shortly");
    return undefined;
  }
  if (!token || token.user.verifiedAt === null) {
    rejectUpgrade(socket, 401, "unauthorized", "send a valid API token (Authorization: Bearer kws_…): run kws login");
    return undefined;
  }
  if (token.scope !== "full") {
    rejectUpgrade(socket, 403, "forbidden", "this API token is read-only; use a full token");
    return undefined;
  }
  return token.user;
}

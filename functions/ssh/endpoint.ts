import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { createWebSocketStream, WebSocketServer, type WebSocket } from "ws";
import type { Logger } from "../../shared/logger";
import { SSH_PATH } from "../../shared/protocol/cli-streams";
import { keepAlive, STREAM_PING_MS } from "../../shared/streams/keepalive";
import { authenticateUpgrade } from "../auth/upgrade-auth";
import { DialError, type StreamDialer } from "../ingress/stream-dialer";
import { instanceOfUser } from "../instances/queries";
import type { Services } from "../services";
import { rejectUpgrade, upgradePath, type UpgradeHandler } from "../upgrades";

export const SSH_PORT = 22;

export interface SshEndpointOptions {
  services: Services;
  /** The agents' data connections (functions/streams/hub.ts). */
  dialer: StreamDialer;
  pingMs?: number;
}

/**
 * `kws ssh --stdio`'s websocket (SSH_PATH): port 22 of the caller's own instance, and nothing else,
 * reached through its host's agent as the ingress reaches the IDE. The bytes are SSH's own, so
 * the session is end to end between the person's ssh and the instance's sshd.
 */
export class SshEndpoint {
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly log: Logger;

  constructor(private readonly o: SshEndpointOptions) {
    this.log = o.services.logger.child({ component: "ssh" });
  }

  readonly handleUpgrade: UpgradeHandler = (req, socket, head) => {
    if (upgradePath(req) !== SSH_PATH) return false;
    socket.on("error", () => socket.destroy());
    void this.accept(req, socket, head).catch((err: unknown) => {
      this.log.error("ssh upgrade failed", { err });
      rejectUpgrade(socket, 503, "unavailable", "the SSH connection could not be opened; try again shortly");
    });
    return true;
  };

  private async accept(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const s = this.o.services;
    const user = await authenticateUpgrade(s, req, socket, this.log);
    if (!user) return;
    const instance = await instanceOfUser(s.db, user.id);
    if (!instance) return rejectUpgrade(socket, 404, "not_found", "you have no instance; deploy one first (kws instance deploy)");
    if (instance.state !== "running") {
      return rejectUpgrade(socket, 409, "conflict", `your instance is ${instance.state}: start it (kws instance start), or run kws ssh without --no-start`);
    }
    let stream: Duplex;
    try {
      stream = await this.o.dialer.dial({ hostId: instance.hostId, address: instance.ipv4, port: SSH_PORT });
    } catch (err) {
      if (!(err instanceof DialError)) throw err;
      const message = err.reason === "host_offline" ? "your instance's host is offline; try again in a minute" : `SSH on your instance does not answer (${err.reason})`;
      return rejectUpgrade(socket, 503, "unavailable", message);
    }
    const log = this.log.child({ userId: user.id, instance: instance.name });
    this.wss.handleUpgrade(req, socket, head, (ws) => this.bridge(ws, stream, log));
  }

  /** Bytes both ways with backpressure; either side ending ends the other. */
  private bridge(ws: WebSocket, stream: Duplex, log: Logger): void {
    const started = Date.now();
    const stopKeepAlive = keepAlive(ws, this.o.pingMs ?? STREAM_PING_MS);
    const wsStream = createWebSocketStream(ws);
    const end = () => {
      wsStream.destroy();
      stream.destroy();
    };
    wsStream.on("error", end).on("close", end);
    stream.on("error", end).on("close", end);
    ws.on("close", stopKeepAlive);
    stream.once("close", () => log.info("ssh session ended", { seconds: Math.round((Date.now() - started) / 1000) }));
    wsStream.pipe(stream);
    stream.pipe(wsStream);
    log.info("ssh session open");
  }
}

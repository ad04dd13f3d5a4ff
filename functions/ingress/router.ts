import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { getRequestListener } from "@hono/node-server";
import { customDomainOfHost, labelOfHost } from "./names";
import type { Logger } from "../../shared/logger";
import type { Services } from "../services";
import { identify, isBrowser, verdict } from "./access";
import { hostPages } from "./host-pages";
import { outcomes, outcomeStatus, type Outcome } from "./outcome";
import { forwardHeaders, hasBody, proxyHttp, proxyUpgrade } from "./proxy";
import { resolveSiteCached, type Destination } from "./resolve";
import { DialError, type StreamDialer } from "./stream-dialer";
import { Upstreams } from "./upstreams";
import { IngressActivity } from "../idle/ingress-activity";
import { trustsPeer } from "../middleware/client-ip";
import type { UpgradeHandler } from "../upgrades";

/** Names served by a person's own machine rather than a container: `kws tunnel` (functions/tunnels/hub.ts). */
export interface TunnelDestinations extends StreamDialer {
  destination(label: string): Destination | undefined;
}

export interface IngressRouterOptions {
  services: Services;
  /** How bytes reach a container: through its host's agent in production. */
  dialer: StreamDialer;
  /** Where proxied requests count as activity for idle auto-stop (default: written to the services' database). */
  activity?: IngressActivity;
  /** The tunnels of this process, asked before the database. */
  tunnels?: TunnelDestinations;
}

/** `reused`: the destination was resolved by an earlier request (resolveSiteCached). */
type Decision = { kind: "proxy"; dest: Destination; reused: boolean } | Outcome;

/**
 * Caddy's catch-all route (scripts/ingress-setup.sh) sets this on what it sends for names that are
 * none of KWS's own: such a request is a custom domain's, served or answered 404 by the ingress,
 * never by the control plane's pages (a removed domain whose certificate Caddy still holds).
 */
export const SITE_HEADER = "x-kws-site";

/**
 * Serves sites: app hosts (`<label>.<apps base>`) and people's verified custom domains. It
 * resolves the site, applies its access level, and proxies HTTP and websockets to the container
 * over a stream from the dialer. Everything that is not proxied (sign-in, 403, 404, a stopped
 * instance, an app that does not answer) is a page of `hostPages`. It answers only requests for
 * sites; others are left to their owners.
 */
export class IngressRouter {
  private readonly pages: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  private readonly log: Logger;
  /** Kept-alive HTTP connections to containers, and to tunnels' local ports. */
  private readonly upstreams: Upstreams;
  private readonly activity: IngressActivity;
  private readonly tunnelUpstreams: Upstreams | undefined;

  constructor(private readonly o: IngressRouterOptions) {
    this.upstreams = new Upstreams(o.dialer);
    this.activity = o.activity ?? new IngressActivity({ db: o.services.db, logger: o.services.logger });
    this.tunnelUpstreams = o.tunnels && new Upstreams(o.tunnels);
    this.pages = getRequestListener(hostPages(async () => ({ services: o.services })).fetch);
    this.log = o.services.logger.child({ component: "ingress" });
  }

  /**
   * The site a request is for: an app host's label at once; a custom domain once a lookup found it
   * verified (or at once, from Caddy's catch-all route); undefined: not a site, the request is the
   * control plane's.
   */
  site(req: IncomingMessage): string | Promise<string | undefined> | undefined {
    const { config, db } = this.o.services;
    const label = labelOfHost(config.appsUrl, req.headers.host);
    if (label !== undefined) return label;
    const domain = customDomainOfHost(config, req.headers.host);
    if (domain === undefined || req.headers[SITE_HEADER] === "custom-domain") return domain;
    return resolveSiteCached(db, domain).then((found) => (found ? domain : undefined));
  }

  /** Takes the upgrades of sites (for routeUpgrades); other upgrades stay with their own handlers. */
  readonly handleUpgrade: UpgradeHandler = async (req, socket, head) => {
    const site = await this.site(req);
    if (site === undefined) return false;
    void this.upgrade(req, socket, head, site).catch((err: unknown) => {
      this.log.error("upgrade failed", { err });
      socket.destroy();
    });
    return true;
  };

  /** Serves a request for `site` (what site() found for it). */
  handle(req: IncomingMessage, res: ServerResponse, site: string): void {
    void this.serve(req, res, site).catch((err: unknown) => this.failed(req, res, err));
  }

  /** Serves the request if it is a site's, else hands it to `other`. */
  route(req: IncomingMessage, res: ServerResponse, other: (req: IncomingMessage, res: ServerResponse) => void): void {
    const site = this.site(req);
    if (typeof site === "string") return this.handle(req, res, site);
    if (site === undefined) return other(req, res);
    site.then(
      (found) => (found === undefined ? other(req, res) : this.handle(req, res, found)),
      (err: unknown) => this.failed(req, res, err),
    );
  }

  private failed(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    this.log.error("ingress request failed", { err, host: req.headers.host, path: req.url });
    if (res.headersSent) res.destroy();
    else res.writeHead(500, { "content-type": "text/plain" }).end("internal error");
  }

  /** Counts a request and the bytes its connection carried while it was answered. */
  private count(req: IncomingMessage, res: ServerResponse, kind: string): void {
    const metrics = this.o.services.metrics;
    if (!metrics) return;
    const socket = req.socket;
    const read = socket.bytesRead;
    const written = socket.bytesWritten;
    res.once("close", () => {
      metrics.ingressRequests.inc({ kind, status: String(res.statusCode) });
      metrics.ingressBytes.inc({ direction: "in" }, Math.max(0, socket.bytesRead - read));
      metrics.ingressBytes.inc({ direction: "out" }, Math.max(0, socket.bytesWritten - written));
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse, label: string, fresh = false): Promise<void> {
    if (req.url?.startsWith("/.kws/")) return this.pages(req, res);
    const decision = await this.decide(req, label, fresh);
    // A retry after a stale resolution (fresh) was counted by its first pass.
    if (!fresh) this.count(req, res, decision.kind === "proxy" ? "proxied" : decision.kind);
    if (decision.kind !== "proxy") return this.page(req, res, decision);
    const { dest, reused } = decision;
    this.activity.touch(dest.instanceId);
    const started = performance.now();
    const upstreams = dest.kind === "tunnel" ? this.tunnelUpstreams! : this.upstreams;
    proxyHttp(req, res, upstreams.agentFor(dest.target), forwardHeaders(req, this.forwardOptions(req)), (err) => {
      // What was resolved a moment ago may have stopped or gone since: read it again before saying so.
      if (reused && err instanceof DialError && !hasBody(req)) {
        return void this.serve(req, res, label, true).catch((e: unknown) => this.failed(req, res, e));
      }
      if (err instanceof DialError) this.log.info("dial failed", { label, reason: err.reason, message: err.message });
      else this.log.warn("app broke off before answering", { label, err: err.message });
      void this.page(req, res, { kind: "unreachable", reason: err instanceof DialError ? err.reason : "refused", dest });
    });
    res.on("close", () => this.log.debug("proxied", { label, method: req.method, path: req.url, status: res.statusCode, ms: Math.round(performance.now() - started) }));
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, label: string, fresh = false): Promise<void> {
    socket.on("error", () => socket.destroy());
    const decision = req.url?.startsWith("/.kws/") ? ({ kind: "not_found", label } as const) : await this.decide(req, label, fresh);
    if (decision.kind !== "proxy") {
      this.o.services.metrics?.ingressRequests.inc({ kind: decision.kind, status: String(outcomeStatus(decision)) });
      return refuse(socket, outcomeStatus(decision));
    }
    this.activity.touch(decision.dest.instanceId);
    const dialed = await this.dial(decision.dest);
    // As for requests: what was resolved a moment ago may have stopped or gone since.
    if ("outcome" in dialed && decision.reused) return this.upgrade(req, socket, head, label, true);
    if ("outcome" in dialed) return refuse(socket, outcomeStatus(dialed.outcome));
    this.countUpgrade(socket);
    proxyUpgrade(req, socket, head, dialed.stream, forwardHeaders(req, this.forwardOptions(req)));
  }

  /** A websocket through the ingress: counted as it starts, its bytes when it ends. */
  private countUpgrade(socket: Duplex): void {
    const metrics = this.o.services.metrics;
    if (!metrics) return;
    metrics.ingressRequests.inc({ kind: "websocket", status: "101" });
    const raw = socket as Duplex & { bytesRead?: number; bytesWritten?: number };
    const read = raw.bytesRead ?? 0;
    const written = raw.bytesWritten ?? 0;
    socket.once("close", () => {
      metrics.ingressBytes.inc({ direction: "in" }, Math.max(0, (raw.bytesRead ?? 0) - read));
      metrics.ingressBytes.inc({ direction: "out" }, Math.max(0, (raw.bytesWritten ?? 0) - written));
    });
  }

  private async decide(req: IncomingMessage, label: string, fresh: boolean): Promise<Decision> {
    const s = this.o.services;
    const tunnel = this.o.tunnels?.destination(label);
    const resolved = tunnel ? { dest: tunnel, reused: false } : await resolveSiteCached(s.db, label, fresh);
    if (!resolved) return { kind: "not_found", label };
    const { dest, reused } = resolved;
    const visitor = await identify(s, req, label);
    switch (verdict(dest, visitor)) {
      case "bad_token":
        return { kind: "unauthorized", message: "the API token is not valid (revoked, expired or unknown)" };
      case "sign_in":
        return isBrowser(req)
          ? { kind: "sign_in", label, path: req.url ?? "/" }
          : { kind: "unauthorized", message: `sign in through a browser, or send Authorization: Bearer kws_… (an API token) to reach ${label}` };
      case "forbidden":
        return { kind: "forbidden", label };
      case "allow":
        return dest.instanceState === "running" ? { kind: "proxy", dest, reused } : { kind: "stopped", dest };
    }
  }

  /** A stream to the destination, or the outcome that says why there is none. */
  private async dial(dest: Destination): Promise<{ stream: Duplex } | { outcome: Outcome }> {
    try {
      const dialer = dest.kind === "tunnel" ? this.o.tunnels! : this.o.dialer;
      return { stream: await dialer.dial(dest.target) };
    } catch (err) {
      if (!(err instanceof DialError)) throw err;
      this.log.info("dial failed", { label: dest.label, reason: err.reason, message: err.message });
      return { outcome: { kind: "unreachable", reason: err.reason, dest } };
    }
  }

  private page(req: IncomingMessage, res: ServerResponse, outcome: Outcome): Promise<void> {
    outcomes.set(req, outcome);
    return this.pages(req, res);
  }

  private forwardOptions(req: IncomingMessage) {
    const peer = req.socket.remoteAddress ?? "unknown";
    return { clientIp: peer, trustProxy: trustsPeer(peer, this.o.services.config.trustProxy) };
  }
}

function refuse(socket: Duplex, status: number): void {
  socket.end(`HTTP/1.1 ${status} ${status === 404 ? "Not Found" : "Refused"}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

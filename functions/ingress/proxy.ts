import { request, type Agent, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { SESSION_COOKIE } from "../auth/sessions";
import { kwsBearer } from "./access";
import { APP_COOKIE, STATE_COOKIE } from "./grants";

// Meaningful for one connection only (RFC 9110 7.6.1); `expect`: our server has already answered 100-continue.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "expect"]);
// KWS's own cookies: the session, the app grant and its sign-in state, the form token (both names of it).
const KWS_COOKIES = new Set([SESSION_COOKIE, APP_COOKIE, STATE_COOKIE, "kws_csrf", "__Host-kws_csrf"]);

export interface ForwardOptions {
  /** The caller's address as the proxy saw it. */
  clientIp: string;
  /** Whether the peer is a proxy we trust (TRUST_PROXY), so X-Forwarded-* already on the request are its. */
  trustProxy: boolean;
}

const cookieName = (pair: string) => (pair.includes("=") ? pair.slice(0, pair.indexOf("=")) : pair).trim();

function withoutKwsCookies(header: string): string | undefined {
  const kept = header
    .split(";")
    .map((pair) => pair.trim())
    .filter((pair) => pair && !KWS_COOKIES.has(cookieName(pair)));
  return kept.length ? kept.join("; ") : undefined;
}

/**
 * The headers an app receives: the request's own, minus hop-by-hop ones and every KWS credential,
 * plus X-Forwarded-For/-Proto/-Host. A websocket upgrade keeps its Connection and Upgrade.
 */
export function forwardHeaders(req: IncomingMessage, o: ForwardOptions): OutgoingHttpHeaders {
  const named = new Set((req.headers.connection ?? "").split(",").map((v) => v.trim().toLowerCase()));
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers as IncomingHttpHeaders)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name) || name.startsWith("x-forwarded-")) continue;
    out[name] = value;
  }
  if (req.headers.cookie) {
    const cookie = withoutKwsCookies(req.headers.cookie);
    if (cookie) out.cookie = cookie;
    else delete out.cookie;
  }
  if (kwsBearer(req)) delete out.authorization;
  const prior = o.trustProxy ? req.headers["x-forwarded-for"] : undefined;
  out["x-forwarded-for"] = prior ? `${prior}, ${o.clientIp}` : o.clientIp;
  const proto = o.trustProxy ? req.headers["x-forwarded-proto"] : undefined;
  out["x-forwarded-proto"] = proto ?? ((req.socket as { encrypted?: boolean }).encrypted ? "https" : "http");
  const host = o.trustProxy ? req.headers["x-forwarded-host"] : undefined;
  out["x-forwarded-host"] = host ?? req.headers.host ?? "";
  if (req.headers.upgrade) {
    out.connection = "Upgrade";
    out.upgrade = req.headers.upgrade;
  }
  return out;
}

/** The app's response headers for the client: its own minus hop-by-hop ones, repeated ones kept (Set-Cookie). */
function responseHeaders(up: IncomingMessage): string[] {
  const named = new Set((up.headers.connection ?? "").split(",").map((v) => v.trim().toLowerCase()));
  const out: string[] = [];
  for (let i = 0; i < up.rawHeaders.length; i += 2) {
    const name = up.rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.has(lower)) continue;
    out.push(name, up.rawHeaders[i + 1]!);
  }
  return out;
}

// Safe to send again when a kept-alive connection turned out closed before it answered (RFC 9110 9.2.2).
const RETRYABLE = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * One HTTP exchange over a connection of `agent` (kept alive between exchanges): bodies stream
 * both ways with backpressure (pipe), and either side going away ends the other. A request without
 * a body that met a reused connection the app had just closed is sent once more on a new one.
 * `failed` is called when no response started (the dial's DialError, or the app broke off).
 */
export function proxyHttp(req: IncomingMessage, res: ServerResponse, agent: Agent, headers: OutgoingHttpHeaders, failed: (err: Error) => void, retried = false): void {
  const upstream = request({ method: req.method, path: req.url, headers, setHost: false, agent });
  upstream.on("response", (up) => {
    res.writeHead(up.statusCode ?? 502, up.statusMessage, responseHeaders(up));
    // A streamed answer (SSE, chunked) shows its head at once; a sized one sends it with its body, in one write.
    if (up.headers["content-length"] === undefined) res.flushHeaders();
    up.pipe(res);
    up.on("error", () => res.destroy());
    up.on("aborted", () => res.destroy());
  });
  upstream.on("error", (err) => {
    if (res.headersSent) res.destroy();
    else if (upstream.reusedSocket && !retried && !hasBody(req)) proxyHttp(req, res, agent, headers, failed, true);
    else failed(err);
  });
  res.on("close", () => {
    if (!res.writableFinished) upstream.destroy();
  });
  if (hasBody(req)) req.pipe(upstream);
  else upstream.end();
}

/** Whether the request may carry a body (so it cannot be sent again once read). */
export function hasBody(req: IncomingMessage): boolean {
  return !RETRYABLE.has(req.method ?? "") || req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
}

/** Serializes a request head for a raw stream (websocket upgrades go byte for byte after it). */
function requestHead(req: IncomingMessage, headers: OutgoingHttpHeaders): string {
  let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${v}\r\n`;
  }
  return `${head}\r\n`;
}

/** A websocket (or any Upgrade): the head goes to the app, then both directions are piped as they are. */
export function proxyUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, stream: Duplex, headers: OutgoingHttpHeaders): void {
  const end = () => {
    socket.destroy();
    stream.destroy();
  };
  socket.on("error", end);
  stream.on("error", end);
  socket.on("close", end);
  stream.on("close", end);
  stream.write(requestHead(req, headers));
  if (head.length) stream.write(head);
  stream.pipe(socket);
  socket.pipe(stream);
}

import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import type { Config } from "../../shared/config";
import { allowedAddresses, checkedLookup, DestinationError, resolverOf } from "./destination";

/** At most this much of a response is read; the rest is dropped with the connection. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export interface AttemptRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface AttemptResult {
  /** The response's status; absent when none came (refused, timed out, connection failed). */
  statusCode?: number;
  durationMs: number;
  error?: string;
  /** A 429's or 503's Retry-After, in ms. */
  retryAfterMs?: number;
}

/** Retry-After as seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Sends webhook attempts over keep-alive connections. Every new connection's address is checked
 * (checkedLookup) unless private destinations are allowed; an IP literal, which Node connects to
 * without a lookup, is checked before the request. Redirects are not followed.
 */
export class WebhookSender {
  private readonly resolve;
  private readonly agents;
  private readonly allowPrivate: boolean;
  private readonly timeoutMs: number;

  constructor(config: Pick<Config, "dnsServers" | "webhooks">) {
    this.resolve = resolverOf(config);
    this.allowPrivate = config.webhooks.allowPrivate;
    this.timeoutMs = config.webhooks.timeoutMs;
    const options = { keepAlive: true, maxSockets: 64, lookup: checkedLookup(this.resolve, this.allowPrivate) };
    this.agents = { "http:": new http.Agent(options), "https:": new https.Agent(options) };
  }

  async send(request: AttemptRequest): Promise<AttemptResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const url = new URL(request.url);
      if (isIP(url.hostname.replace(/^\[(.*)\]$/, "$1"))) await allowedAddresses(url.hostname, this.resolve, this.allowPrivate);
      const { statusCode, retryAfter } = await this.post(url, request);
      const retry = statusCode === 429 || statusCode === 503 ? retryAfterMs(retryAfter) : undefined;
      return { statusCode, durationMs: elapsed(), ...(retry !== undefined ? { retryAfterMs: retry } : {}) };
    } catch (err) {
      return { durationMs: elapsed(), error: err instanceof DestinationError ? `refused: ${err.message}` : errorText(err) };
    }
  }

  private post(url: URL, request: AttemptRequest): Promise<{ statusCode: number; retryAfter?: string }> {
    const body = Buffer.from(request.body);
    return new Promise((resolve, reject) => {
      const req = (url.protocol === "https:" ? https : http).request(url, {
        method: "POST",
        agent: this.agents[url.protocol as "http:" | "https:"],
        headers: { ...request.headers, "content-type": "application/json", "content-length": String(body.length), "user-agent": "KWS-Webhooks/1" },
      });
      // From the connection on: time waiting for one of this worker's own sockets is not the receiver's.
      let timer: ReturnType<typeof setTimeout> | undefined;
      req.once("socket", () => {
        timer = setTimeout(() => req.destroy(new Error(`no complete answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      });
      const done = (fn: () => void) => {
        clearTimeout(timer);
        fn();
      };
      req.on("error", (err) => done(() => reject(err)));
      req.on("response", (res) => {
        let read = 0;
        const answer = () => done(() => resolve({ statusCode: res.statusCode ?? 0, retryAfter: res.headers["retry-after"] }));
        res.on("data", (chunk: Buffer) => {
          read += chunk.length;
          // Enough: the status is what counts; the connection is not reused.
          if (read > MAX_RESPONSE_BYTES) {
            answer();
            res.destroy();
          }
        });
        res.on("end", answer);
        res.on("error", (err) => done(() => reject(err)));
      });
      req.end(body);
    });
  }

  close() {
    this.agents["http:"].destroy();
    this.agents["https:"].destroy();
  }
}

function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message}` : (e.message ?? String(err));
}

/**
 * An Upstash-REST-compatible HTTP bridge in front of a real Redis: the protocol that
 * @upstash/redis speaks (and that the serverless-redis-http project serves), so the Upstash
 * adapter can be tested, and run in CI, against a real Redis.
 *
 *   POST /            ["SET","k","v"]          → {"result": ...} | 400 {"error": "..."}
 *   POST /pipeline    [["SET","k","v"],[...]]  → [{"result": ...} | {"error": "..."}, ...]
 *   POST /multi-exec  the same, inside MULTI/EXEC
 *
 * Every request needs `Authorization: Bearer <token>`. With `Upstash-Encoding: base64` (the
 * client's default) every string in a result, at any depth, is base64-encoded.
 * Commands go to Redis as an argument vector (ioredis `callBuffer`); no command string is built.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";

export interface UpstashBridgeOptions {
  redisUrl: string;
  token: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Defaults to 127.0.0.1. */
  host?: string;
  /**
   * Test-only, not in serverless-redis-http: prepended to every key argument (ioredis
   * `keyPrefix`, which knows each command's key positions, EVAL's KEYS included), so a client
   * without a prefix of its own (the edge worker) can still be kept apart in a shared Redis.
   */
  keyPrefix?: string;
}

export interface UpstashBridge {
  /** Base URL to give @upstash/redis as `url`. */
  url: string;
  close(): Promise<void>;
}

type Command = [string, ...string[]];
type Reply = { result: unknown } | { error: string };

const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** Commands that would change the state of the shared connection: refused, as Upstash does. */
const REFUSED = new Set([
  "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
  "MONITOR", "SELECT", "SWAPDB", "QUIT", "RESET", "HELLO", "AUTH", "CLIENT", "SYNC", "PSYNC",
  "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "SHUTDOWN", "DEBUG",
]);

/** Commands that may block: run alone on a connection of their own, never in a pipeline. */
const BLOCKING = new Set([
  "BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP", "WAIT", "WAITAOF",
]);

class ClientError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

function isBlocking(cmd: Command): boolean {
  const name = cmd[0].toUpperCase();
  if (BLOCKING.has(name)) return true;
  return (name === "XREAD" || name === "XREADGROUP") && cmd.some((a) => a.toUpperCase() === "BLOCK");
}

/** A JSON value as a command: a non-empty array of strings, numbers or booleans. */
function toCommand(value: unknown, where: string): Command {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ClientError(`${where}: a command must be a non-empty JSON array, e.g. ["GET","key"]`);
  }
  const args = value.map((v, i) => {
    if (typeof v === "string") return v;
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    throw new ClientError(`${where}: argument ${i} must be a string or a number`);
  });
  const name = args[0]!;
  if (REFUSED.has(name.toUpperCase())) throw new ClientError(`ERR command ${name} is not supported by the REST API`);
  return args as Command;
}

function toCommands(value: unknown): Command[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ClientError("body must be a non-empty JSON array of commands");
  }
  return value.map((c, i) => toCommand(c, `command ${i}`));
}

/** A Redis reply as JSON: bulk strings as UTF-8 text or base64, recursively. */
function encode(value: unknown, base64: boolean): unknown {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return base64 ? value.toString("base64") : value.toString("utf8");
  if (typeof value === "string") return base64 ? Buffer.from(value, "utf8").toString("base64") : value;
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (Array.isArray(value)) return value.map((v) => encode(v, base64));
  // An error nested in an array reply (e.g. a Lua table): its message, like any string.
  if (value instanceof Error) return encode(value.message, base64);
  return encode(String(value), base64);
}

function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === "ReplyError";
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ClientError(`body is over ${MAX_BODY_BYTES} bytes`, 413));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function digest(s: string) {
  return createHash("sha256").update(s).digest();
}

export async function startUpstashBridge(options: UpstashBridgeOptions): Promise<UpstashBridge> {
  if (!options.token) throw new Error("the Upstash bridge needs a token (clients send it as a Bearer token)");
  const expected = digest(options.token);
  const authorized = (header: string | undefined) => {
    const given = header?.match(/^Bearer\s+(\S+)$/i)?.[1];
    return given !== undefined && timingSafeEqual(digest(given), expected);
  };

  // RESP2, as Upstash answers; no long retry loops: a dead Redis should show as an error quickly.
  const redisOptions = {
    protocol: 2 as const,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    keyPrefix: options.keyPrefix ?? "",
  };
  const redis = new Redis(options.redisUrl, redisOptions);
  // Without a listener ioredis prints every connection error; the replies carry them instead.
  let lastError: unknown;
  redis.on("error", (err) => {
    lastError = err;
  });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(
      `the Upstash bridge cannot reach Redis at ${redactedUrl(options.redisUrl)}: ${errorText(lastError ?? err)}`,
    );
  }

  const runOne = async (cmd: Command): Promise<unknown> => {
    const [name, ...args] = cmd;
    if (!isBlocking(cmd)) return redis.callBuffer(name, ...args);
    const own = redis.duplicate();
    own.on("error", () => {});
    try {
      return await own.callBuffer(name, ...args);
    } finally {
      own.disconnect();
    }
  };

  const runPipeline = async (cmds: Command[]): Promise<Reply[]> => {
    const pipeline = redis.pipeline();
    for (const [name, ...args] of cmds) pipeline.callBuffer(name, ...args);
    const results = (await pipeline.exec()) ?? [];
    return results.map(([err, result]) => (err ? { error: err.message } : { result }));
  };

  const runTransaction = async (cmds: Command[]): Promise<Reply[]> => {
    const multi = redis.multi();
    for (const [name, ...args] of cmds) multi.callBuffer(name, ...args);
    const results = await multi.exec();
    // null: a WATCH aborted it; the bridge never WATCHes, but say so rather than crash.
    if (results === null) throw new ClientError("EXECABORT transaction aborted");
    return results.map(([err, result]) => (err ? { error: err.message } : { result }));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (!authorized(req.headers.authorization)) {
      send(res, 401, { error: "Unauthorized: send the bridge token as Authorization: Bearer <token>" });
      return;
    }
    const path = new URL(req.url ?? "/", "http://bridge").pathname.replace(/\/+$/, "") || "/";
    if (path !== "/" && path !== "/pipeline" && path !== "/multi-exec") {
      send(res, 404, { error: `no endpoint ${path}; use POST /, /pipeline or /multi-exec` });
      return;
    }
    if (req.method !== "POST") {
      send(res, 405, { error: `use POST for ${path}` });
      return;
    }
    const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
    const encodeReply = (r: Reply): Reply => ("error" in r ? r : { result: encode(r.result, base64) });
    try {
      let body: unknown;
      try {
        body = JSON.parse(await readBody(req));
      } catch (err) {
        if (err instanceof ClientError) throw err;
        throw new ClientError("body is not valid JSON");
      }
      if (path === "/") {
        const result = await runOne(toCommand(body, "body"));
        send(res, 200, { result: encode(result, base64) });
      } else if (path === "/pipeline") {
        // Bad entries answer for themselves; the rest run as one pipeline, in order.
        const entries = Array.isArray(body) && body.length > 0 ? body : toCommands(body);
        const parsed = entries.map((c, i) => {
          try {
            const cmd = toCommand(c, `command ${i}`);
            if (isBlocking(cmd)) throw new ClientError(`ERR blocking command ${cmd[0]} is not allowed in a pipeline`);
            return cmd;
          } catch (err) {
            return { error: errorText(err) };
          }
        });
        const good = parsed.filter((p): p is Command => Array.isArray(p));
        const results = good.length > 0 ? await runPipeline(good) : [];
        let next = 0;
        send(
          res,
          200,
          parsed.map((p) => (Array.isArray(p) ? encodeReply(results[next++]!) : p)),
        );
      } else {
        const cmds = toCommands(body);
        const blocking = cmds.find(isBlocking);
        if (blocking) throw new ClientError(`ERR blocking command ${blocking[0]} is not allowed in a transaction`);
        const results = await runTransaction(cmds);
        send(res, 200, results.map(encodeReply));
      }
    } catch (err) {
      if (err instanceof ClientError) send(res, err.status, { error: err.message });
      else if (isReplyError(err)) send(res, 400, { error: err.message });
      else send(res, 502, { error: `Redis did not answer: ${errorText(err)}` });
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) send(res, 500, { error: errorText(err) });
      else res.destroy();
    });
  });
  const host = options.host ?? "127.0.0.1";
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  const publicHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${publicHost}:${port}`,
    close: () =>
      (closed ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await redis.quit().catch(() => redis.disconnect());
      })()),
  };
}

/** The Redis URL without its password, for messages. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparsable URL)";
  }
}

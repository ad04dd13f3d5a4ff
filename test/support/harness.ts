import { parseConfig, type Config } from "../../shared/config";
import type { KV } from "../../shared/kv/port";
import { createControlPlane } from "../../functions/control-plane";
import { createNodeServices, type NodeServices } from "../../functions/node-services";
import { replyOf, type ApiMethod, type ApiResponse, type Reply } from "./api";
import { freshDatabase } from "./database";
import { environmentKV } from "./kv";
import { AMQP_URL } from "./local-services";
import { Mailbox } from "./mailbox";

export interface Harness {
  app: ReturnType<typeof createControlPlane>;
  services: NodeServices;
  mailbox: Mailbox;
  config: Config;
  /** The fresh database's connection string, for programs that run beside the harness. */
  databaseUrl?: string;
  /** A JSON request through the app, from client address `ip`; the response is typed by the route `path` matches. */
  call<M extends ApiMethod, P extends string>(
    method: M,
    path: P,
    options?: CallOptions,
  ): Promise<ApiResponse<M, P>>;
  /** `call` with the reply read: its status and parsed body, typed by the route. */
  api<M extends ApiMethod, P extends string>(method: M, path: P, options?: CallOptions): Promise<Reply<M, P>>;
  close(): Promise<void>;
}

type CallOptions = { body?: unknown; headers?: Record<string, string>; ip?: string };

/**
 * The control plane in-process over the real services (test/run.ts points the environment at
 * them): a fresh database, the environment's KV, RabbitMQ with a dead-letter queue of its own, and a
 * mailbox behind the SMTP adapter. `queue: "memory"` is for benches that measure without a broker.
 */
export async function startHarness(
  options: { config?: Partial<Config>; env?: Record<string, string>; kv?: KV; queue?: "amqp" | "memory" } = {},
): Promise<Harness> {
  const db = await freshDatabase();
  const mailbox = await Mailbox.open(options.config?.logLevel);
  const deadLetterQueue = `kws.test.dead.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const config: Config = {
    ...parseConfig({
      NODE_ENV: "test",
      PUBLIC_URL: "http://kws.test",
      AMQP_URL: options.queue === "memory" ? "" : AMQP_URL,
      KWS_DEAD_LETTER_QUEUE: deadLetterQueue,
      ...options.env,
    }),
    ...options.config,
  };
  const services = await createNodeServices(config, mailbox.logger, {
    database: db.handle,
    kv: options.kv ?? environmentKV(),
    mailer: mailbox.mailer,
  });
  const app = createControlPlane(async () => ({ services }));
  const call = async <M extends ApiMethod, P extends string>(method: M, path: P, { body, headers = {}, ip = nextAddress() }: CallOptions = {}) =>
    (await app.request(
      path,
      {
        method,
        headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      },
      { incoming: { socket: { remoteAddress: ip } } },
    )) as ApiResponse<M, P>;
  return {
    app,
    services,
    mailbox,
    config,
    databaseUrl: db.url,
    call,
    api: async (method, path, options) => replyOf(await call(method, path, options)),
    close: async () => {
      await services.queue.remove(config.deadLetterQueue).catch(() => undefined);
      await services.queue.close();
      await services.pgCluster?.close();
      await services.kv.close?.();
      await mailbox.close();
      await db.drop();
    },
  };
}

let addresses = 0;
/**
 * Each request comes from its own documentation-range address unless a test names one, so per-address
 * limits only bite where a test means them to: a /64 of its own, as limits count an IPv6 /64 as one client.
 */
function nextAddress() {
  addresses++;
  return `2001:db8:${(addresses >> 16).toString(16)}:${(addresses & 0xffff).toString(16)}::1`;
}

let counter = 0;
/** A valid, unique sign-up body. */
export function newAccount(overrides: Record<string, string> = {}) {
  const n = `${Date.now().toString(36)}${(counter++).toString(36)}`;
  return {
    email: `user.${n}@example.org`,
    username: `user_${n}`,
    password: "Correct-Horse-9",
    firstName: "Grace",
    lastName: "Hopper",
    ...overrides,
  };
}

/** Registers, verifies through the mailed link, signs in: the session cookie header. */
export async function signedInUser(h: Harness, overrides: Record<string, string> = {}) {
  const account = newAccount(overrides);
  const reg = await h.call("POST", "/api/v1/auth/register", { body: account });
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${await reg.text()}`);
  const ver = await h.call("POST", "/api/v1/auth/verify", { body: { token: await h.mailbox.verificationToken(account.email) } });
  if (ver.status !== 200) throw new Error(`verify: ${ver.status} ${await ver.text()}`);
  const login = await h.call("POST", "/api/v1/auth/login", { body: { username: account.username, password: account.password } });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${await login.text()}`);
  const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
  const { user } = await login.json();
  return { account, cookie, userId: user.id };
}

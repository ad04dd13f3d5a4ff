import { parseConfig, type Config } from "../../shared/config";
import type { KV } from "../../shared/kv/port";
import type { QueuePort } from "../../shared/queue/port";
import { createControlPlane } from "../../functions/control-plane";
import { createNodeServices, type NodeServices } from "../../functions/node-services";
import { freshDatabase } from "./database";
import { environmentKV } from "./kv";
import { Mailbox } from "./mailbox";

export interface Harness {
  app: ReturnType<typeof createControlPlane>;
  services: NodeServices;
  mailbox: Mailbox;
  config: Config;
  /** A JSON request through the app, from client address `ip`. */
  call(method: string, path: string, options?: { body?: unknown; headers?: Record<string, string>; ip?: string }): Promise<Response>;
  close(): Promise<void>;
}

/**
 * The control plane in-process over real ports: a fresh database, the environment's KV,
 * and a mailbox behind a real mail adapter.
 */
export async function startHarness(
  options: { config?: Partial<Config>; env?: Record<string, string>; kv?: KV; queue?: QueuePort } = {},
): Promise<Harness> {
  const db = await freshDatabase();
  const mailbox = await Mailbox.open();
  const config: Config = {
    ...parseConfig({ NODE_ENV: "test", PUBLIC_URL: "http://kws.test", ...options.env }),
    ...options.config,
  };
  const services = await createNodeServices(config, mailbox.logger, {
    database: db.handle,
    kv: options.kv ?? environmentKV(),
    mailer: mailbox.mailer,
    queue: options.queue,
  });
  const app = createControlPlane(async () => ({ services }));
  return {
    app,
    services,
    mailbox,
    config,
    call: (method, path, { body, headers = {}, ip = nextAddress() } = {}) =>
      Promise.resolve(
        app.request(
          path,
          {
            method,
            headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
            body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
          },
          { incoming: { socket: { remoteAddress: ip } } },
        ),
      ),
    close: async () => {
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
  const { user } = (await login.json()) as { user: { id: string } };
  return { account, cookie, userId: user.id };
}

import type { ApiMethod } from "./api";
import { TestDns } from "./dns-server";
import { signedInUser, startHarness, type Harness } from "./harness";
import { seedInstance } from "./ingress";

/** The apps base of the domain tests: names under it are KWS's own. */
export const APPS_URL = "https://kws.app";

/** A harness whose domain checks ask `dns`, a DNS server the test writes records into. */
export async function startDomainHarness(): Promise<{ h: Harness; dns: TestDns }> {
  const dns = await TestDns.start();
  const h = await startHarness({ env: { KWS_APPS_URL: APPS_URL, KWS_DNS_SERVERS: dns.server } });
  return { h, dns };
}

let apps = 0;
/** A signed-in person with an instance and one published app (`app`), and typed API calls as them. */
export async function personWithApp(h: Harness) {
  const { cookie, userId, account } = await signedInUser(h);
  await seedInstance(h.services.db, userId);
  const call = <M extends ApiMethod, P extends string>(method: M, path: P, body?: unknown) => h.api(method, `/api/v1${path}`, { body, headers: { cookie } });
  const app = `app${Date.now().toString(36)}${(apps++).toString(36)}`;
  const published = await call("POST", "/apps", { name: app, port: 3000 });
  if (published.status !== 201) throw new Error(`publish ${app}: ${published.status} ${JSON.stringify(published.body)}`);
  return { userId, cookie, account, app, call };
}

let domains = 0;
/** A fresh domain name of the test zone. */
export const newDomain = (label = "shop") => `${label}.d${Date.now().toString(36)}${(domains++).toString(36)}.example.org`;

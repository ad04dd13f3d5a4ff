import { lookup as systemLookup } from "node:dns/promises";
import { Resolver } from "node:dns/promises";
import { isIP, type LookupFunction } from "node:net";
import type { Config } from "../../shared/config";
import { formatIp, inRange, parseCidr, parseIp, type CidrRange } from "../../shared/net/ip";

/**
 * Where webhooks may not go unless KWS_WEBHOOK_ALLOW_PRIVATE: loopback, private (RFC 1918, CGNAT,
 * IPv6 ULA), link-local (cloud metadata at 169.254.169.254), unspecified, multicast and reserved
 * addresses. IPv4-mapped IPv6 addresses count as the IPv4 address they carry (parseIp), and
 * ::/96 covers ::, ::1 and the old IPv4-compatible form.
 */
const FORBIDDEN: CidrRange[] = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "224.0.0.0/4",
  "240.0.0.0/4",
  "::/96",
  "fc00::/7",
  "fe80::/10",
  "ff00::/8",
].map((c) => parseCidr(c)!);

/** Why `address` is not a destination for webhooks, or undefined when it may be one. */
export function forbiddenAddress(address: string): string | undefined {
  const ip = parseIp(address);
  if (!ip) return `${address} is not an IP address`;
  return FORBIDDEN.some((range) => inRange(ip, range)) ? `${formatIp(ip)} is a loopback, private, link-local or reserved address` : undefined;
}

export class DestinationError extends Error {
  readonly code = "EWEBHOOKDEST";
  constructor(message: string) {
    super(message);
    this.name = "DestinationError";
  }
}

type Resolve = (host: string) => Promise<string[]>;

/** A host's addresses, through config.dnsServers when set, else the system's resolver. */
export function resolverOf(config: Pick<Config, "dnsServers">): Resolve {
  if (!config.dnsServers) return async (host) => (await systemLookup(host, { all: true, verbatim: true })).map((a) => a.address);
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers(config.dnsServers);
  return async (host) => {
    const found = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
    const addresses = found.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
    if (addresses.length === 0) throw new DestinationError(`${host} does not resolve`);
    return addresses;
  };
}

/** The addresses of `host` (a name or an IP literal), refused when any of them is forbidden. */
export async function allowedAddresses(host: string, resolve: Resolve, allowPrivate: boolean): Promise<string[]> {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  const addresses = isIP(bare) ? [bare] : await resolve(bare).catch((err: unknown) => {
    throw err instanceof DestinationError ? err : new DestinationError(`${bare} does not resolve`);
  });
  if (!allowPrivate) {
    for (const address of addresses) {
      const why = forbiddenAddress(address);
      if (why) throw new DestinationError(bare === address ? why : `${bare} resolves to ${address}: ${why}`);
    }
  }
  return addresses;
}

/**
 * The `lookup` of the HTTP client: it resolves the name and checks every address before the
 * connection is made, so the address connected to is the one checked (a name that resolved to a
 * public address at registration and to a private one now is refused: no DNS rebinding).
 */
export function checkedLookup(resolve: Resolve, allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    allowedAddresses(hostname, resolve, allowPrivate).then(
      (addresses) => {
        const family = (a: string) => (isIP(a) === 6 ? 6 : 4);
        const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => family(a) === options.family) : addresses;
        if (wanted.length === 0) return callback(new DestinationError(`${hostname} has no IPv${options.family} address`), "", 4);
        if (options.all) return (callback as unknown as (err: null, all: { address: string; family: number }[]) => void)(null, wanted.map((a) => ({ address: a, family: family(a) })));
        callback(null, wanted[0]!, family(wanted[0]!));
      },
      (err: Error) => callback(err as NodeJS.ErrnoException, "", 4),
    );
  };
}

import { parseIPv4 } from "../addresses/pool";

/**
 * IPv4 and IPv6 addresses and CIDR ranges as numbers, in plain TypeScript (the edge bundle has no
 * node:net). IPv4-mapped IPv6 addresses (::ffff:192.0.2.1, as Node reports IPv4 peers on a dual-stack
 * socket) count as the IPv4 address they carry.
 */
export interface IpAddress {
  version: 4 | 6;
  value: bigint;
}

export interface CidrRange {
  version: 4 | 6;
  /** The network's first address. */
  base: bigint;
  prefix: number;
}

const bits = (version: 4 | 6) => (version === 4 ? 32 : 128);

function ipv4(text: string): number | undefined {
  try {
    return parseIPv4(text);
  } catch {
    return undefined;
  }
}

function ipv6(text: string): bigint | undefined {
  let s = text.replace(/%[^%]+$/, "");
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const v4 = ipv4(dotted[2]!);
    if (v4 === undefined) return undefined;
    s = `${dotted[1]}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  let value = 0n;
  for (const g of [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    value = (value << 16n) + BigInt(parseInt(g, 16));
  }
  return value;
}

/** An address as a proxy header may carry it: bare, `[v6]` or `[v6]:port`, `v4:port`; undefined if none. */
export function parseIp(text: string): IpAddress | undefined {
  const t = text.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(t)?.[1];
  const v4 = ipv4(/^(\d+\.\d+\.\d+\.\d+)(?::\d+)?$/.exec(t)?.[1] ?? "");
  if (v4 !== undefined) return { version: 4, value: BigInt(v4) };
  const v6 = ipv6(bracketed ?? t);
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === 0xffffn) return { version: 4, value: v6 & 0xffffffffn };
  return { version: 6, value: v6 };
}

/** "10.0.0.0/8", "2001:db8::/32", or one address (a range of one); undefined when malformed. */
export function parseCidr(text: string): CidrRange | undefined {
  const [address, prefixText, extra] = text.trim().split("/");
  if (extra !== undefined || address === undefined) return undefined;
  const ip = parseIp(address);
  if (!ip || /[[\]]/.test(address)) return undefined;
  const max = bits(ip.version);
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  const host = max - prefix;
  return { version: ip.version, base: (ip.value >> BigInt(host)) << BigInt(host), prefix };
}

export function inRange(ip: IpAddress, range: CidrRange): boolean {
  if (ip.version !== range.version) return false;
  const host = BigInt(bits(ip.version) - range.prefix);
  return ip.value >> host === range.base >> host;
}

/** One text per address: IPv4 dotted, IPv6 as eight lower-case groups without leading zeros. */
export function formatIp(ip: IpAddress): string {
  if (ip.version === 4) return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 255n)).join(".");
  return Array.from({ length: 8 }, (_, i) => ((ip.value >> BigInt((7 - i) * 16)) & 0xffffn).toString(16)).join(":");
}

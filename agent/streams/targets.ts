import { BlockList, isIP } from "node:net";
import { networkInterfaces, type NetworkInterfaceInfo } from "node:os";
import { z } from "zod";
import type { Verdict } from "../../shared/streams/relay";

/** The LXD bridge whose subnet instances live on: the default set of stream targets. */
export const DEFAULT_BRIDGE = "lxdbr0";

/** `a.b.c.d/n` or an IPv6 CIDR. */
export const cidr = z.string().refine((value) => parseCidr(value) !== undefined, "must be a CIDR such as 10.0.0.0/24 or fd00::/64");

interface Cidr {
  network: string;
  prefix: number;
  family: "ipv4" | "ipv6";
}

function parseCidr(value: string): Cidr | undefined {
  const [network, bits, ...rest] = value.trim().split("/");
  const version = isIP(network ?? "");
  const prefix = Number(bits);
  if (rest.length > 0 || version === 0 || bits === undefined || !/^\d+$/.test(bits) || prefix > (version === 4 ? 32 : 128)) return undefined;
  return { network: network!, prefix, family: version === 4 ? "ipv4" : "ipv6" };
}

export interface StreamTargetsOptions {
  /** Explicit allowed ranges (--stream-targets); without them, the bridge's own subnets. */
  cidrs?: readonly string[];
  bridge?: string;
  interfaces?: () => NodeJS.Dict<NetworkInterfaceInfo[]>;
}


/**
 * Which addresses a stream may reach: the instances' bridge subnet (or the operator's ranges),
 * never the host's own addresses, the link-local range (cloud metadata at 169.254.169.254) or
 * loopback — loopback only when an explicit range names it (tests).
 */
export class StreamTargets {
  private readonly explicit: BlockList | undefined;
  private readonly loopbackAllowed: boolean;
  private readonly never = new BlockList();
  private readonly interfaces: () => NodeJS.Dict<NetworkInterfaceInfo[]>;

  constructor(private readonly options: StreamTargetsOptions = {}) {
    this.interfaces = options.interfaces ?? networkInterfaces;
    const parsed = (options.cidrs ?? []).map((value) => {
      const c = parseCidr(value);
      if (!c) throw new Error(`${value}: not a CIDR`);
      return c;
    });
    this.explicit = parsed.length > 0 ? blockList(parsed) : undefined;
    this.loopbackAllowed = parsed.some((c) => (c.family === "ipv4" ? c.network.startsWith("127.") && c.prefix >= 8 : c.network === "::1"));
    this.never.addSubnet("0.0.0.0", 8, "ipv4");
    this.never.addSubnet("169.254.0.0", 16, "ipv4");
    this.never.addSubnet("fe80::", 10, "ipv6");
    this.never.addAddress("::", "ipv6");
    if (!this.loopbackAllowed) {
      this.never.addSubnet("127.0.0.0", 8, "ipv4");
      this.never.addAddress("::1", "ipv6");
    }
  }

  /** What is allowed, for the log. */
  describe(): string {
    return this.options.cidrs?.length ? this.options.cidrs.join(", ") : `the subnets of ${this.bridge}`;
  }

  private get bridge(): string {
    return this.options.bridge ?? DEFAULT_BRIDGE;
  }

  check(address: string): Verdict {
    const version = isIP(address);
    if (version === 0) return { ok: false, message: `${address} is not an IP address` };
    const family = version === 4 ? "ipv4" : "ipv6";
    if (this.never.check(address, family)) return { ok: false, message: `${address} is never a stream target` };
    // Read each time: the bridge may come up (or change) after the agent started.
    const interfaces = this.interfaces();
    const own = Object.values(interfaces).flatMap((list) => list ?? []);
    if (own.some((i) => !i.internal && i.address === address)) return { ok: false, message: `${address} is this host itself` };
    const allowed = this.explicit ?? this.bridgeSubnets(interfaces[this.bridge] ?? []);
    if (!allowed.check(address, family)) return { ok: false, message: `${address} is outside ${this.describe()}` };
    return { ok: true };
  }

  private bridgeSubnets(list: readonly NetworkInterfaceInfo[]): BlockList {
    return blockList(list.flatMap((i) => (i.cidr ? [parseCidr(i.cidr)!] : [])));
  }
}

function blockList(cidrs: readonly Cidr[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) list.addSubnet(c.network, c.prefix, c.family);
  return list;
}

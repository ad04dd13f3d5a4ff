import { z } from "zod";
import { formatIPv4, parseIPv4 } from "../../shared/addresses/pool";
import { endpoint } from "../../shared/protocol/host-address";
import { interfaceName } from "../../shared/protocol/wireguard";

/** The host's own tunnel address with the devices' prefix, e.g. 10.8.0.1/24. */
export const interfaceAddress = z
  .cidrv4({ error: "must be the host's tunnel address with its prefix, e.g. 10.8.0.1/24" })
  .refine(isHostInSubnet, "must be a host address (not the network or broadcast one) in a /8 to /30 subnet, e.g. 10.8.0.1/24");

const PORT_RULE = "must be a UDP port, 1-65535";
export const listenPort = z.coerce.number({ error: PORT_RULE }).int(PORT_RULE).min(1, PORT_RULE).max(65_535, PORT_RULE);

export const WireGuardConfigSchema = z.object({
  interfaceName: interfaceName.default("wg0"),
  address: interfaceAddress.default("10.8.0.1/24"),
  listenPort: listenPort.default(51_820),
  /** host:port devices dial, reported to the control plane (checked here as the gateway checks it). */
  endpoint: endpoint.optional(),
  /** The nftables table (family inet) that KWS owns; nothing else of the ruleset is touched. */
  table: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]{0,31}$/).default("kws"),
});
export type WireGuardConfig = z.output<typeof WireGuardConfigSchema>;

// Zod runs refinements even after the format check failed: this must not throw on garbage.
function isHostInSubnet(cidr: string): boolean {
  const prefix = Number(cidr.split("/")[1]);
  if (!Number.isInteger(prefix) || prefix < 8 || prefix > 30) return false;
  try {
    const subnet = parseSubnet(cidr);
    return subnet.host !== subnet.network && subnet.host !== subnet.broadcast;
  } catch {
    return false;
  }
}

export interface Subnet {
  host: number;
  network: number;
  broadcast: number;
  prefix: number;
}

/** "10.8.0.1/24" → the host address and its subnet's bounds, as numbers. */
export function parseSubnet(cidr: string): Subnet {
  const [address = "", prefixText = ""] = cidr.split("/");
  const prefix = Number(prefixText);
  const host = parseIPv4(address);
  const size = 2 ** (32 - prefix);
  const network = host - (host % size);
  return { host, network, broadcast: network + size - 1, prefix };
}

export function inSubnet(subnet: Subnet, address: number): boolean {
  return address >= subnet.network && address <= subnet.broadcast;
}

export function describeSubnet(subnet: Subnet): string {
  return `${formatIPv4(subnet.network)}/${subnet.prefix}`;
}

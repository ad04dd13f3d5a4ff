import { z } from "zod";
import { formatIPv4, parseIPv4, type PoolRange } from "../../shared/addresses/pool";
import type { Host, HostFacts } from "../../shared/db/schema";
import { AppError } from "../core/errors";
import { formatEndpoint, isEndpoint } from "../../shared/protocol/host-address";
import { isWireGuardKey } from "../../shared/crypto/x25519";
import { WireGuardFactsSchema } from "../../shared/protocol/wireguard";

export type HostWireGuard = NonNullable<HostFacts["wireguard"]>;

/** What a device needs to know about its host's WireGuard interface. */
export interface DeviceNetwork {
  wg: HostWireGuard;
  /** Device addresses: after the host's own address up to the last before broadcast. */
  range: PoolRange;
  /** The tunnel subnet, e.g. 10.8.0.0/24. */
  subnet: string;
  /** host:port devices dial. */
  endpoint: string;
}

export function deviceNetwork(host: Host): DeviceNetwork {
  if (!host.facts?.wireguard) throw new AppError("unavailable", `host ${host.name} has no WireGuard interface yet (its agent has not reported one); try again later`);
  // Facts stored before they were checked at the gateway are checked again here.
  const facts = WireGuardFactsSchema.safeParse(host.facts.wireguard);
  if (!facts.success) throw new AppError("unavailable", `host ${host.name} reported WireGuard facts that are not valid; its agent must report them again`);
  const wg = facts.data;
  const [ip, prefixText] = wg.address.split("/");
  const prefix = Number(prefixText);
  const own = parseIPv4(ip!);
  const size = 2 ** (32 - prefix);
  const network = own - (own % size);
  const endpoint = wg.endpoint ?? (host.publicAddress ? formatEndpoint(host.publicAddress, wg.listenPort) : undefined);
  if (!endpoint) throw new AppError("not_configured", `host ${host.name} has no public address for devices to dial; an administrator sets it`);
  return { wg, range: { first: own + 1, last: network + size - 2 }, subnet: `${formatIPv4(network)}/${prefix}`, endpoint };
}

export const PRIVATE_KEY_PLACEHOLDER = "<your device's private key>";

export interface ClientConfig {
  privateKey?: string;
  address: string;
  dns: string;
  network: DeviceNetwork;
  /** The owner's container; null while they have none. */
  ownerAddress: string | null;
}

const ipv4 = z.ipv4();
const cidrv4 = z.cidrv4();
const isIPv4 = (text: string) => ipv4.safeParse(text).success;
const isSubnet = (text: string) => cidrv4.safeParse(text).success;

/**
 * One `Key = value` line. wg-quick runs `PostUp` and friends as root, so a value that could start
 * a line or a section of its own is refused, whatever checked it before (defence in depth).
 */
function line(key: string, value: string, valid: (text: string) => boolean): string {
  if (!valid(value)) throw new AppError("unavailable", `the device config cannot be written: its ${key} is not valid`);
  return `${key} = ${value}`;
}

/** The wg-quick configuration of one device. */
export function renderClientConfig(c: ClientConfig): string {
  const allowed = [...(c.ownerAddress === null ? [] : [`${c.ownerAddress}/32`]), c.network.subnet].join(", ");
  return [
    "[Interface]",
    c.privateKey === undefined ? `PrivateKey = ${PRIVATE_KEY_PLACEHOLDER}` : line("PrivateKey", c.privateKey, isWireGuardKey),
    line("Address", `${c.address}/32`, isSubnet),
    line("DNS", c.dns, isIPv4),
    "",
    "[Peer]",
    line("PublicKey", c.network.wg.publicKey, isWireGuardKey),
    line("Endpoint", c.network.endpoint, isEndpoint),
    line("AllowedIPs", allowed, (text) => text.split(", ").every(isSubnet)),
    "PersistentKeepalive = 25",
    "",
  ].join("\n");
}

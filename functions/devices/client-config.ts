import { generateKeyPairSync } from "node:crypto";
import { formatIPv4, parseIPv4, type PoolRange } from "../../shared/addresses/pool";
import type { Host, HostFacts } from "../../shared/db/schema";
import { AppError } from "../../shared/errors";

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
  const wg = host.facts?.wireguard;
  if (!wg) throw new AppError("unavailable", `host ${host.name} has no WireGuard interface yet (its agent has not reported one); try again later`);
  const [ip, prefixText] = wg.address.split("/");
  const prefix = Number(prefixText);
  const own = parseIPv4(ip!);
  const size = 2 ** (32 - prefix);
  const network = own - (own % size);
  const endpoint = wg.endpoint ?? (host.publicAddress ? `${host.publicAddress.includes(":") ? `[${host.publicAddress}]` : host.publicAddress}:${wg.listenPort}` : undefined);
  if (!endpoint) throw new AppError("not_configured", `host ${host.name} has no public address for devices to dial; an administrator sets it`);
  return { wg, range: { first: own + 1, last: network + size - 2 }, subnet: `${formatIPv4(network)}/${prefix}`, endpoint };
}

/** A key pair made on the server, for a person who did not bring one: shown once, never stored. */
export function generateKeyPair(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync("x25519");
  const b64 = (jwk: string | undefined) => Buffer.from(jwk!, "base64url").toString("base64");
  return { privateKey: b64(privateKey.export({ format: "jwk" }).d), publicKey: b64(publicKey.export({ format: "jwk" }).x) };
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

/** The wg-quick configuration of one device. */
export function renderClientConfig(c: ClientConfig): string {
  const allowed = [...(c.ownerAddress ? [`${c.ownerAddress}/32`] : []), c.network.subnet].join(", ");
  return [
    "[Interface]",
    `PrivateKey = ${c.privateKey ?? PRIVATE_KEY_PLACEHOLDER}`,
    `Address = ${c.address}/32`,
    `DNS = ${c.dns}`,
    "",
    "[Peer]",
    `PublicKey = ${c.network.wg.publicKey}`,
    `Endpoint = ${c.network.endpoint}`,
    `AllowedIPs = ${allowed}`,
    "PersistentKeepalive = 25",
    "",
  ].join("\n");
}

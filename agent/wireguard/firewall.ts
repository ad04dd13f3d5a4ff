import { readFile, writeFile } from "node:fs/promises";
import type { WireGuardPeer } from "../../shared/protocol/wireguard";
import type { WireGuardConfig } from "./config";
import { runTool } from "./tools";

const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";

/**
 * The nftables table KWS owns (family inet). Traffic from the WireGuard interface may only go
 * from a device's address to its owner's container (one set lookup per packet, whatever the
 * number of devices); replies come back through conntrack; everything else from or to the
 * interface is dropped: device to device, device to other containers or the internet, new
 * connections towards devices, and the host's own services except ping.
 *
 * The text deletes and recreates the table, and `nft -f` applies a file as one transaction:
 * there is no moment with half the rules. The leading `table` line makes the delete valid when the
 * table does not exist yet. All values come validated (config schema, peer schema), so they are
 * plain tokens here.
 */
export function renderTable(config: Pick<WireGuardConfig, "table" | "interfaceName">, peers: readonly WireGuardPeer[]): string {
  const wg = `"${config.interfaceName}"`;
  const elements = peers
    .filter((peer) => peer.ownerAddress !== null)
    .map((peer) => `${peer.address.slice(0, -3)} . ${peer.ownerAddress}`);
  return [
    `table inet ${config.table}`,
    `delete table inet ${config.table}`,
    `table inet ${config.table} {`,
    "  set device_owner {",
    "    type ipv4_addr . ipv4_addr",
    ...(elements.length ? [`    elements = { ${elements.join(",\n      ")} }`] : []),
    "  }",
    "  chain forward {",
    "    type filter hook forward priority filter; policy accept;",
    `    iifname ${wg} ip saddr . ip daddr @device_owner accept`,
    `    iifname ${wg} drop`,
    `    oifname ${wg} ct state established,related accept`,
    `    oifname ${wg} drop`,
    "  }",
    "  chain input {",
    "    type filter hook input priority filter; policy accept;",
    `    iifname ${wg} ct state established,related accept`,
    `    iifname ${wg} icmp type echo-request accept`,
    `    iifname ${wg} drop`,
    "  }",
    "}",
    "",
  ].join("\n");
}

export async function applyTable(text: string): Promise<void> {
  await runTool("nft", ["-f", "-"], { input: text });
}

/** Routing between the tunnel and the bridge needs it; LXD and host-setup set it too, a reboot may not. */
export async function enableForwarding(): Promise<boolean> {
  if ((await readFile(IP_FORWARD, "utf8")).trim() === "1") return false;
  await writeFile(IP_FORWARD, "1\n");
  return true;
}

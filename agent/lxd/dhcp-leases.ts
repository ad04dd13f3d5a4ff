import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

/**
 * The bridge's dnsmasq leases, which LXD does not always clear: when many instances are deleted at
 * once, a deleted instance's lease can stay for its whole lease time (1 h), and dnsmasq will not
 * give that address to the next instance it is reserved for. The agent releases such leases with
 * dhcp_release (Debian's dnsmasq-utils), which tells dnsmasq the client gave the address back.
 */
export interface DhcpLease {
  mac: string;
  ip: string;
  hostname: string;
  clientId: string | null;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const CLIENT_ID = /^[0-9a-f]{2}(:[0-9a-f]{2})*$/i;
const NETWORK = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/;

/** LXD keeps dnsmasq's files beside its socket: <var dir>/networks/<network>/dnsmasq.leases. */
export function leaseFilePath(socketPath: string, network: string): string {
  return join(dirname(socketPath), "networks", network, "dnsmasq.leases");
}

/** The leases in dnsmasq's file ("expiry mac ip hostname client-id" per line); none when it is absent. */
export async function readLeases(path: string): Promise<DhcpLease[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  return text
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 4 && MAC.test(f[1]!) && IPV4.test(f[2]!))
    .map(([, mac, ip, hostname, clientId]) => ({
      mac: mac!.toLowerCase(),
      ip: ip!,
      hostname: hostname === "*" ? "" : hostname!,
      clientId: clientId && CLIENT_ID.test(clientId) ? clientId : null,
    }));
}

/** Tells the bridge's dnsmasq that this lease was given back. */
export async function releaseLease(network: string, lease: DhcpLease): Promise<void> {
  if (!NETWORK.test(network) || !MAC.test(lease.mac) || !IPV4.test(lease.ip)) throw new Error(`not a lease to release: ${JSON.stringify(lease)}`);
  await promisify(execFile)("dhcp_release", [network, lease.ip, lease.mac, ...(lease.clientId ? [lease.clientId] : [])], { timeout: 10_000 });
}

import type { WireGuardPeer } from "../../shared/protocol/wireguard";
import { runTool } from "./tools";

/** One peer as `wg show IF dump` reports it. */
export interface PeerState {
  publicKey: string;
  endpoint: string | null;
  allowedIps: string[];
  /** Unix seconds; 0 = never. */
  latestHandshake: number;
  rxBytes: number;
  txBytes: number;
}

export interface InterfaceDump {
  publicKey: string | null;
  listenPort: number;
  peers: PeerState[];
}

/** What turns the interface's peers into the desired set; peers already right are only counted. */
export interface PeerPlan {
  add: WireGuardPeer[];
  update: WireGuardPeer[];
  remove: string[];
  unchanged: number;
}

// Peers per `wg set` call: keeps argv around 200 KB, far below ARG_MAX, for any number of peers.
const PEERS_PER_CALL = 2000;

const none = (value: string | undefined) => (value === undefined || value === "(none)" ? null : value);

/**
 * Parses `wg show IF dump`: the interface line (private key, public key, listen port, fwmark),
 * then one tab-separated line per peer (public key, preshared key, endpoint, allowed ips,
 * latest handshake, rx, tx, keepalive). The private key is not kept.
 */
export function parseDump(text: string): InterfaceDump {
  const [head = "", ...lines] = text.split("\n").filter((line) => line !== "");
  const fields = head.split("\t");
  return {
    publicKey: none(fields[1]),
    listenPort: Number(fields[2] ?? 0),
    peers: lines.map((line) => {
      const [publicKey = "", , endpoint, allowedIps, handshake, rx, tx] = line.split("\t");
      return {
        publicKey,
        endpoint: none(endpoint),
        allowedIps: none(allowedIps)?.split(",") ?? [],
        latestHandshake: Number(handshake ?? 0),
        rxBytes: Number(rx ?? 0),
        txBytes: Number(tx ?? 0),
      };
    }),
  };
}

export async function readDump(interfaceName: string): Promise<InterfaceDump> {
  return parseDump(await runTool("wg", ["show", interfaceName, "dump"]));
}

/** A peer is right when its allowed ips are exactly its address; anything else about it is left alone. */
export function planPeers(desired: readonly WireGuardPeer[], actual: readonly PeerState[]): PeerPlan {
  const current = new Map(actual.map((peer) => [peer.publicKey, peer]));
  const plan: PeerPlan = { add: [], update: [], remove: [], unchanged: 0 };
  for (const peer of desired) {
    const found = current.get(peer.publicKey);
    current.delete(peer.publicKey);
    if (!found) plan.add.push(peer);
    else if (found.allowedIps.length === 1 && found.allowedIps[0] === peer.address) plan.unchanged += 1;
    else plan.update.push(peer);
  }
  plan.remove = [...current.keys()];
  return plan;
}

/**
 * First half of applying a plan, before the firewall changes: removed peers go, and changed peers
 * lose their old address, so that no peer ever holds an address the new rules give to someone else.
 * Sessions of changed peers survive: only their allowed ips are emptied.
 */
export async function detachPeers(interfaceName: string, plan: PeerPlan): Promise<void> {
  await setPeers(interfaceName, [
    ...plan.remove.map((key) => ["peer", key, "remove"]),
    ...plan.update.map((peer) => ["peer", peer.publicKey, "allowed-ips", ""]),
  ]);
}

/** Second half, once the firewall matches: new peers, and changed peers' new addresses. */
export async function attachPeers(interfaceName: string, plan: PeerPlan): Promise<void> {
  await setPeers(
    interfaceName,
    [...plan.add, ...plan.update].map((peer) => ["peer", peer.publicKey, "allowed-ips", peer.address]),
  );
}

async function setPeers(interfaceName: string, peerArgs: readonly string[][]): Promise<void> {
  for (let i = 0; i < peerArgs.length; i += PEERS_PER_CALL) {
    await runTool("wg", ["set", interfaceName, ...peerArgs.slice(i, i + PEERS_PER_CALL).flat()]);
  }
}

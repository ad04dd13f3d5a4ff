import { existsSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "../../shared/logger";
import type { WireGuardConfig } from "./config";
import type { KeyPair } from "../../shared/crypto/x25519";
import { readDump } from "./peers";
import type { PeerState } from "./peers";
import { runTool } from "./tools";

export interface EnsureInterfaceOptions {
  config: WireGuardConfig;
  keys: KeyPair;
  /** The 0600 file holding keys.privateKey: wg reads private keys from files only, never argv. */
  keyPath: string;
  logger: Logger;
}

const USERSPACE_EXIT_WAIT_MS = 10_000;

interface IpAddressInfo {
  flags?: string[];
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

/**
 * Makes the interface exist, with this host's key, listen port and address, and up. Each step
 * checks first and changes only what differs, so running it on a healthy interface is a no-op
 * and running it after a reboot rebuilds everything. Returns whether the interface was created,
 * and its peers as they are (read here anyway, so the caller need not read them again).
 */
export async function ensureInterface(options: EnsureInterfaceOptions): Promise<{ created: boolean; peers: PeerState[] }> {
  const { config, keys, keyPath, logger } = options;
  const name = config.interfaceName;
  const created = !existsSync(`/sys/class/net/${name}`);
  if (created) await createInterface(name, logger);

  const dump = await readDump(name);
  if (dump.publicKey !== keys.publicKey || dump.listenPort !== config.listenPort) {
    await runTool("wg", ["set", name, "private-key", keyPath, "listen-port", String(config.listenPort)]);
    logger.info("wireguard key and listen port set", { interface: name, publicKey: keys.publicKey, listenPort: config.listenPort });
  }

  const [link] = JSON.parse(await runTool("ip", ["-j", "-4", "address", "show", "dev", name])) as IpAddressInfo[];
  const current = (link?.addr_info ?? []).filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`);
  // The agent owns the interface: a previous --wg-address must not keep routing the old subnet here.
  for (const stale of current.filter((a) => a !== config.address)) {
    await runTool("ip", ["address", "del", stale, "dev", name]);
    logger.warn("removed a stale address from the wireguard interface", { interface: name, address: stale });
  }
  if (!current.includes(config.address)) await runTool("ip", ["address", "add", config.address, "dev", name]);
  if (!link?.flags?.includes("UP")) await runTool("ip", ["link", "set", "dev", name, "up"]);
  return { created, peers: dump.peers };
}

/** Kernel WireGuard when the kernel has it, else wireguard-go (which detaches and keeps running). */
async function createInterface(name: string, logger: Logger): Promise<void> {
  try {
    await runTool("ip", ["link", "add", "dev", name, "type", "wireguard"]);
    logger.info("wireguard interface created (kernel)", { interface: name });
    return;
  } catch (err) {
    logger.info("no kernel wireguard: falling back to wireguard-go", { interface: name, reason: (err as Error).message });
  }
  // Older wireguard-go releases refuse to run on Linux without this; newer ones only print a banner.
  const env = { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: "1" };
  const deadline = Date.now() + USERSPACE_EXIT_WAIT_MS;
  for (;;) {
    try {
      await runTool("wireguard-go", [name], { env });
      break;
    } catch (err) {
      // The previous wireguard-go of a just-deleted interface holds its control socket until it has exited.
      if (!/socket in use/.test((err as Error).message) || Date.now() > deadline) throw err;
      await delay(100);
    }
  }
  logger.info("wireguard interface created (wireguard-go)", { interface: name });
}

import type { Logger } from "../../shared/logger";
import { agentErrorCodes } from "../../shared/protocol/commands";
import { JobError } from "../handlers/handler";
import type { LxdClient } from "../lxd/client";
import { runTool } from "../wireguard/tools";

/** An instance's end of a bridge: the host side of its veth pair and the MAC its guest must send from. */
export interface BridgePort {
  port: string;
  mac: string;
}

export interface FirewallState {
  /** The LXD bridges instances sit on. */
  bridges: readonly string[];
  ports: readonly BridgePort[];
}

/**
 * KWS's tables for tenants on one host (apart from the WireGuard table, which is rewritten on every
 * peer change). LXD's NIC options (agent/handlers/instance-isolation.ts) keep instances apart on the
 * bridge and stop address and MAC spoofing there; what they leave open is closed here:
 * - `inet`: from a bridge, the host answers only DHCP and DNS (and replies to what the host itself
 *   opened): not the control plane, not the agent, not anything else listening on any of its
 *   addresses, IPv6 link-local ones included. Nothing is routed from a bridge back into a bridge
 *   (instance to instance through the host) or to link-local 169.254.0.0/16 (cloud metadata).
 *   Everything else (the NAT path out) and the WireGuard table's rules are untouched.
 * - `bridge`: LXD's MAC filter drops a frame with a foreign source MAC only after the bridge has
 *   learnt that MAC on the sender's port, so for a moment a neighbour's traffic would follow it;
 *   dropping it before learning (prerouting) keeps every MAC on its own port.
 * Each table is deleted and recreated in one `nft -f` transaction: never half the rules. Names
 * come from LXD (interface names, MACs) and are checked before they reach the text.
 */
export function renderFirewall(table: string, state: FirewallState): string {
  const bridges = state.bridges.filter(isInterfaceName).map((b) => `"${b}"`);
  const pins = state.ports
    .filter((p) => isInterfaceName(p.port) && isMac(p.mac))
    .map((p) => `    iifname "${p.port}" ether saddr != ${p.mac.toLowerCase()} drop`);
  return [
    `table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    "  set bridges {",
    "    type ifname",
    ...(bridges.length ? [`    elements = { ${bridges.join(", ")} }`] : []),
    "  }",
    "  chain input {",
    "    type filter hook input priority filter; policy accept;",
    "    iifname != @bridges accept",
    "    ct state established,related accept",
    "    udp dport 67 accept",
    "    meta l4proto { tcp, udp } th dport 53 accept",
    "    drop",
    "  }",
    "  chain forward {",
    "    type filter hook forward priority filter; policy accept;",
    "    iifname != @bridges accept",
    "    oifname @bridges drop",
    "    ip daddr 169.254.0.0/16 drop",
    "  }",
    "}",
    `table bridge ${table}`,
    `delete table bridge ${table}`,
    `table bridge ${table} {`,
    "  chain prerouting {",
    "    type filter hook prerouting priority filter; policy accept;",
    ...pins,
    "  }",
    "}",
    "",
  ].join("\n");
}

const isInterfaceName = (name: string) => /^[a-zA-Z0-9_.-]{1,15}$/.test(name);
const isMac = (mac: string) => /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac);

/** The managed bridges and the running instances' ports on them, as LXD reports them now. */
export async function readFirewallState(lxd: LxdClient): Promise<FirewallState> {
  const [networks, instances] = await Promise.all([lxd.listNetworks(), lxd.listInstances()]);
  const bridges = networks.filter((n) => n.managed && n.type === "bridge").map((n) => n.name);
  const ports: BridgePort[] = [];
  for (const instance of instances) {
    for (const [device, spec] of Object.entries(instance.expanded_devices ?? instance.devices)) {
      if (spec.type !== "nic" || !spec.network || !bridges.includes(spec.network)) continue;
      const port = instance.config[`volatile.${device}.host_name`];
      const mac = instance.config[`volatile.${device}.hwaddr`];
      if (port && mac) ports.push({ port, mac });
    }
  }
  return { bridges, ports };
}

export interface HostFirewallOptions {
  /** The LXD client while LXD answers. */
  lxd: () => LxdClient | undefined;
  logger: Logger;
  /** nftables table name, in families inet and bridge (default kws_instances). */
  table?: string;
  /** How often the tables are rebuilt from LXD, for instances started by someone else (default 60 s). */
  intervalMs?: number;
}

/**
 * Keeps the host's tenant tables in step with LXD: at start, periodically, and after each start
 * of an instance by the agent (its veth is new then). A start by someone else (`lxc start`, LXD's
 * own restart at boot) is covered by the next periodic pass; until then that port's MAC is only
 * checked by LXD's filter.
 */
export class HostFirewall {
  private readonly options: HostFirewallOptions;
  private readonly table: string;
  private timer: NodeJS.Timeout | undefined;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(options: HostFirewallOptions) {
    this.options = options;
    this.table = options.table ?? "kws_instances";
  }

  /** Never throws: failures are logged and retried by the timer (and each instance start fails until it works). */
  async start(): Promise<void> {
    await this.refresh().catch((err: unknown) => this.options.logger.error("host firewall not applied", { err }));
    this.timer = setInterval(() => {
      this.refresh().catch((err: unknown) => this.options.logger.error("host firewall refresh failed", { err }));
    }, this.options.intervalMs ?? 60_000);
  }

  /** The tables stay: instances stay isolated while the agent restarts. */
  stop(): void {
    clearInterval(this.timer);
  }

  /** Rebuilds the tables from LXD; one at a time. Throws a JobError when LXD or nft fails. */
  refresh(): Promise<void> {
    const run = this.tail.then(() => this.apply());
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async apply(): Promise<void> {
    const lxd = this.options.lxd();
    // No LXD, no instance to fence; the timer comes back once LXD answers.
    if (!lxd) return;
    const state = await readFirewallState(lxd);
    try {
      await runTool("nft", ["-f", "-"], { input: renderFirewall(this.table, state) });
    } catch (err) {
      throw new JobError(agentErrorCodes.firewall, `host firewall (nftables ${this.table}) not applied: ${(err as Error).message}`);
    }
  }
}

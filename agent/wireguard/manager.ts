import { join } from "node:path";
import type { z } from "zod";
import { formatIPv4, parseIPv4 } from "../../shared/addresses/pool";
import type { Logger } from "../../shared/logger";
import { agentErrorCodes } from "../../shared/protocol/commands";
import type { CommandResult } from "../../shared/protocol/commands";
import { WireGuardPeerSetSchema } from "../../shared/protocol/wireguard";
import type { WireGuardFactsSchema, WireGuardPeer } from "../../shared/protocol/wireguard";
import { JobError } from "../handlers/handler";
import { WireGuardConfigSchema, describeSubnet, inSubnet, parseSubnet } from "./config";
import type { Subnet, WireGuardConfig } from "./config";
import { DesiredPeers } from "./desired-peers";
import { applyTable, enableForwarding, renderTable } from "./firewall";
import { ensureInterface } from "./interface";
import { loadOrCreateKeyPair } from "./keys";
import type { KeyPair } from "../../shared/crypto/x25519";
import { attachPeers, detachPeers, planPeers, readDump } from "./peers";
import type { PeerPlan } from "./peers";

export type WireGuardFacts = z.output<typeof WireGuardFactsSchema>;
export type SyncResult = CommandResult<"wg.sync">;

export interface WireGuardOptions {
  /** Validated here; omitted fields take the defaults (wg0, 10.8.0.1/24, 51820, table kws). */
  config: z.input<typeof WireGuardConfigSchema>;
  /** Holds the private key and the desired peer set. */
  stateDir: string;
  logger: Logger;
  /** How often the interface, peers and firewall are checked and repaired (default 5 minutes). */
  reconcileIntervalMs?: number;
}

/**
 * The host's WireGuard interface and the device peers on it. It keeps the desired peer set (the
 * last one the control plane sent, saved in the state directory) and converges the interface, the
 * peers and the nftables table to it: on start, every few minutes, and on each command. All work
 * runs one at a time, so concurrent commands cannot interleave their changes.
 */
export class WireGuard {
  readonly config: WireGuardConfig;
  private readonly subnet: Subnet;
  private readonly logger: Logger;
  private readonly keyPath: string;
  private readonly store: DesiredPeers;
  /** The repair period; the agent asks the control plane for the desired set as often. */
  readonly intervalMs: number;
  private keys: KeyPair | undefined;
  private desired = new Map<string, WireGuardPeer>();
  private commands = 0;
  private timer: NodeJS.Timeout | undefined;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(options: WireGuardOptions) {
    this.config = WireGuardConfigSchema.parse(options.config);
    this.subnet = parseSubnet(this.config.address);
    this.logger = options.logger.child({ interface: this.config.interfaceName });
    this.keyPath = join(options.stateDir, `wireguard-${this.config.interfaceName}.key`);
    this.store = new DesiredPeers(join(options.stateDir, `wireguard-${this.config.interfaceName}-peers.json`));
    this.intervalMs = options.reconcileIntervalMs ?? 5 * 60_000;
  }

  /** Never throws: a host without WireGuard still runs instances; the timer and each command retry. */
  async start(): Promise<void> {
    await this.exclusive(async () => {
      try {
        this.desired = byKey(await this.store.load());
      } catch (err) {
        // Failing closed: no devices until the control plane syncs, rather than guessed ones.
        this.logger.error("saved wireguard peers unreadable: starting with none", { err });
      }
      try {
        await this.reconcile();
        this.logger.info("wireguard ready", { ...this.facts(), peers: this.desired.size });
      } catch (err) {
        this.logger.error("wireguard setup failed: retried on every wg command and periodically", { err, retryMs: this.intervalMs });
      }
    });
    this.timer = setInterval(() => {
      this.ensure().catch((err: unknown) => this.logger.error("wireguard reconcile failed", { err }));
    }, this.intervalMs);
  }

  /** Leaves the interface and the firewall up: devices keep working while the agent restarts. */
  stop(): void {
    clearInterval(this.timer);
  }

  /** undefined until the key is loaded. */
  facts(): WireGuardFacts | undefined {
    if (!this.keys) return undefined;
    const { interfaceName, listenPort, address, endpoint } = this.config;
    return { interface: interfaceName, publicKey: this.keys.publicKey, listenPort, address, endpoint: endpoint ?? null };
  }

  /** Recreates whatever is missing (after a reboot: interface, address, key, peers, table) from the saved set. */
  ensure(): Promise<SyncResult> {
    return this.exclusive(async () => counts(await this.reconcile()));
  }

  /**
   * How many peer commands (wg.peer.add, wg.peer.remove, wg.sync) have run. A peer set the control
   * plane read before the latest of them may lack its change: see syncUnlessChanged.
   */
  get changes(): number {
    return this.commands;
  }

  /** Makes `peers` the whole set: missing ones added, unknown ones removed, unchanged ones untouched. */
  sync(peers: readonly WireGuardPeer[]): Promise<SyncResult> {
    return this.exclusive(async () => {
      this.check(peers);
      this.commands += 1;
      return counts(await this.commit(byKey(peers)));
    });
  }

  /**
   * sync for a set the control plane read after `changes` was taken: undefined, and nothing
   * applied, when a peer command ran since (the older set would undo it). Checked in turn with the
   * commands, so none can slip in between the check and the sync.
   */
  syncUnlessChanged(peers: readonly WireGuardPeer[], changes: number): Promise<SyncResult | undefined> {
    return this.exclusive(async () => {
      if (this.commands !== changes) return undefined;
      this.check(peers);
      return counts(await this.commit(byKey(peers)));
    });
  }

  /** "updated" when the peer was known with another address or owner. */
  addPeer(peer: WireGuardPeer): Promise<CommandResult<"wg.peer.add">> {
    return this.exclusive(async () => {
      this.check([peer]);
      const holder = [...this.desired.values()].find((p) => p.address === peer.address && p.publicKey !== peer.publicKey);
      if (holder) {
        throw new JobError(agentErrorCodes.invalidPayload, `${peer.address} belongs to peer ${holder.publicKey}: remove that peer first`);
      }
      this.commands += 1;
      const before = this.desired.get(peer.publicKey);
      const status = !before ? "added" : before.address === peer.address && before.ownerAddress === peer.ownerAddress ? "unchanged" : "updated";
      await this.commit(new Map(this.desired).set(peer.publicKey, peer));
      return { publicKey: peer.publicKey, status };
    });
  }

  removePeer(publicKey: string): Promise<CommandResult<"wg.peer.remove">> {
    return this.exclusive(async () => {
      this.commands += 1;
      const next = new Map(this.desired);
      const known = next.delete(publicKey);
      const plan = await this.commit(next);
      return { publicKey, removed: known || plan.remove.includes(publicKey) };
    });
  }

  /** The interface as it is now (read-only: repairs are for ensure and the commands that change things). */
  async status(): Promise<CommandResult<"wg.status">> {
    const facts = this.facts();
    if (!facts) throw new JobError(agentErrorCodes.wireguard, "WireGuard is not set up on this host (see the agent log)");
    const dump = await readDump(this.config.interfaceName);
    return {
      ...facts,
      peers: dump.peers.map((peer) => ({
        publicKey: peer.publicKey,
        endpoint: peer.endpoint,
        allowedIps: peer.allowedIps,
        latestHandshakeAt: peer.latestHandshake > 0 ? new Date(peer.latestHandshake * 1000).toISOString() : null,
        rxBytes: peer.rxBytes,
        txBytes: peer.txBytes,
      })),
    };
  }

  /** Saved before it is applied: a crash half-way is finished by the next start. */
  private async commit(next: Map<string, WireGuardPeer>): Promise<PeerPlan> {
    const peers = [...next.values()];
    await this.store.save(peers);
    this.desired = next;
    return this.reconcile();
  }

  /**
   * Brings interface, peers and firewall to the desired set. Order matters: peers leave (or lose
   * their old address) before the rules change, and arrive after, so that no device ever holds
   * an address while the rules map it to someone else's container.
   */
  private async reconcile(): Promise<PeerPlan> {
    const started = performance.now();
    const name = this.config.interfaceName;
    this.keys ??= await loadOrCreateKeyPair(this.keyPath);
    const { created, peers: actual } = await ensureInterface({ config: this.config, keys: this.keys, keyPath: this.keyPath, logger: this.logger });
    if (await enableForwarding()) this.logger.info("enabled net.ipv4.ip_forward");
    const wanted = [...this.desired.values()];
    const plan = planPeers(wanted, actual);
    await detachPeers(name, plan);
    await applyTable(renderTable(this.config, wanted));
    await attachPeers(name, plan);
    if (created || plan.add.length || plan.update.length || plan.remove.length) {
      this.logger.info("wireguard reconciled", { created, ...counts(plan), ms: Math.round(performance.now() - started) });
    }
    return plan;
  }

  /** Schema again (the manager builds argv and nft text from these), then what only this host knows: its subnet. */
  private check(peers: readonly WireGuardPeer[]): void {
    const parsed = WireGuardPeerSetSchema.safeParse(peers);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new JobError(agentErrorCodes.invalidPayload, `invalid peers: ${issue?.path.join(".")}: ${issue?.message}`);
    }
    const reserved = new Set([this.subnet.network, this.subnet.host, this.subnet.broadcast]);
    for (const peer of peers) {
      const address = parseIPv4(peer.address.slice(0, -3));
      if (!inSubnet(this.subnet, address) || reserved.has(address)) {
        throw new JobError(
          agentErrorCodes.invalidPayload,
          `${peer.address} is not a device address of ${describeSubnet(this.subnet)} (host ${formatIPv4(this.subnet.host)})`,
        );
      }
      if (peer.ownerAddress !== null && inSubnet(this.subnet, parseIPv4(peer.ownerAddress))) {
        throw new JobError(agentErrorCodes.invalidPayload, `owner address ${peer.ownerAddress} is inside the WireGuard subnet: devices may not reach each other`);
      }
    }
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

function byKey(peers: readonly WireGuardPeer[]): Map<string, WireGuardPeer> {
  return new Map(peers.map((peer) => [peer.publicKey, peer]));
}

function counts(plan: PeerPlan): SyncResult {
  return { added: plan.add.length, updated: plan.update.length, removed: plan.remove.length, unchanged: plan.unchanged };
}

import { setTimeout as delay } from "node:timers/promises";
import { leaseFilePath, readLeases, releaseLease } from "../lxd/dhcp-leases";
import { LxdError } from "../lxd/errors";
import type { LxdClient } from "../lxd/client";
import type { CommandResult } from "../../shared/protocol/commands";

const MINUTE = 60_000;

export type InstanceSummary = CommandResult<"instance.start">;

export async function summarize(lxd: LxdClient, name: string): Promise<InstanceSummary> {
  const state = await lxd.getInstanceState(name);
  return { name, status: state.status, ipv4: state.ipv4[0] ?? null };
}

/**
 * Waits for LXD operations on the instance that are still running, e.g. a create or start
 * left behind by an agent that was killed: acting on a half-made instance fails or races.
 * Exec operations are left alone: they can run for as long as their command does.
 */
export async function settleInstance(
  lxd: LxdClient,
  name: string,
  report: (message: string) => void,
  timeoutMs = 5 * MINUTE,
): Promise<void> {
  const resource = `/1.0/instances/${encodeURIComponent(name)}`;
  const ops = (await lxd.listUnfinishedOperations()).filter(
    (op) =>
      op.description !== "Executing command" &&
      (op.resources?.instances ?? []).some((r) => r.split("?")[0] === resource),
  );
  for (const op of ops) {
    report(`waiting for LXD to finish "${op.description}" on ${name}`);
    try {
      await lxd.waitOperation(`/1.0/operations/${op.id}`, timeoutMs);
    } catch (err) {
      // Its failure is not ours to report: what matters is the state it left, which the caller reads next.
      if (!(err instanceof LxdError) || err.status === 504) throw err;
    }
  }
}

// A constant script (no values): asks the guest's DHCP client for a new lease, with systemd-networkd
// or busybox's udhcpc, the clients of the images KWS runs.
const RENEW_LEASE = "if command -v networkctl >/dev/null 2>&1; then networkctl renew eth0; elif [ -x /bin/busybox ]; then /bin/busybox killall -USR1 udhcpc; fi";
const RENEW_AFTER_MS = 2000;

/**
 * A lease on `address` left by an instance that no longer exists (see agent/lxd/dhcp-leases.ts)
 * keeps dnsmasq from giving the address to the instance it is now reserved for: release it.
 */
async function releaseStaleLease(lxd: LxdClient, name: string, address: string, network: string): Promise<void> {
  const leases = (await readLeases(leaseFilePath(lxd.socketPath, network))).filter((l) => l.ip === address && l.hostname !== name);
  if (leases.length === 0) return;
  const existing = new Set((await lxd.listInstances()).map((i) => i.name));
  for (const lease of leases) if (!existing.has(lease.hostname)) await releaseLease(network, lease);
}

/** Releases the leases of a deleted instance's MAC, which LXD may have left behind. */
export async function releaseLeasesOf(lxd: LxdClient, mac: string, network: string): Promise<number> {
  const leases = (await readLeases(leaseFilePath(lxd.socketPath, network))).filter((l) => l.mac === mac.toLowerCase());
  for (const lease of leases) await releaseLease(network, lease);
  return leases.length;
}

/**
 * Polls until eth0 reports `address`; the guest's DHCP client takes a moment after start. When
 * many instances start at once, the bridge's dnsmasq can answer a guest before it has read that
 * guest's reserved address and hand out one of its dynamic range instead: then the guest is asked
 * to renew its lease, which dnsmasq answers with the reserved address.
 */
export async function waitForAddress(
  lxd: LxdClient,
  target: { name: string; address: string; network: string },
  signal: AbortSignal,
  timeoutMs = MINUTE,
): Promise<string[]> {
  const { name, address, network } = target;
  const deadline = Date.now() + timeoutMs;
  let wrongSince: number | undefined;
  for (;;) {
    const state = await lxd.getInstanceState(name);
    if (state.ipv4.includes(address)) return state.ipv4;
    if (state.ipv4.length === 0) {
      wrongSince = undefined;
    } else if (wrongSince === undefined) {
      wrongSince = Date.now();
    } else if (Date.now() - wrongSince >= RENEW_AFTER_MS) {
      await releaseStaleLease(lxd, name, address, network).catch(() => undefined);
      await lxd.exec(name, { command: ["/bin/sh", "-c", RENEW_LEASE], timeoutMs: 30_000 }).catch(() => undefined);
      wrongSince = Date.now();
    }
    if (state.status !== "Running") throw new Error(`${name} is ${state.status}, so it cannot get ${address}`);
    if (Date.now() >= deadline) {
      const has = state.ipv4.length ? `it has ${state.ipv4.join(", ")}` : "it has no IPv4 address";
      const holder = (await lxd.listNetworkLeases(network).catch(() => []))
        .find((l) => l.address === address && l.hostname !== name);
      const why = holder
        ? `${address} is leased to ${holder.hostname || holder.hwaddr} (${holder.type}) on ${network}`
        : "does the image run a DHCP client on eth0?";
      throw new Error(`${name} is running but did not get ${address} on eth0 within ${Math.round(timeoutMs / 1000)} s (${has}): ${why}`);
    }
    // Short: the address comes a fraction of a second after start, and this wait is most of a bare deploy.
    await delay(50, undefined, { signal });
  }
}

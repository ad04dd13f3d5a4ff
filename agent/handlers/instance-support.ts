import { setTimeout as delay } from "node:timers/promises";
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

/** Polls until eth0 reports `address`; the guest's DHCP client takes a moment after start. */
export async function waitForAddress(
  lxd: LxdClient,
  target: { name: string; address: string; network: string },
  signal: AbortSignal,
  timeoutMs = MINUTE,
): Promise<string[]> {
  const { name, address, network } = target;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await lxd.getInstanceState(name);
    if (state.ipv4.includes(address)) return state.ipv4;
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

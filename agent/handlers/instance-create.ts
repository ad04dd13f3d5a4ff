import { LxdError } from "../lxd/errors";
import type { LxdClient } from "../lxd/client";
import type { LxdDevice, LxdInstance } from "../lxd/types";
import type { HostFirewall } from "../isolation/host-firewall";
import type { Handler } from "./handler";
import { NIC_ISOLATION, shapeStoppedInstance, type InstanceShape } from "./instance-isolation";
import { settleInstance, summarize, waitForAddress, type InstanceSummary } from "./instance-support";

export interface InstanceCreateOptions {
  /** How long a started instance may take to get its reserved address from DHCP. */
  addressTimeoutMs?: number;
  /** The host's tenant tables, refreshed after each start (the instance's port is new then). */
  firewall?: Pick<HostFirewall, "refresh">;
}

export interface EnsureInstanceSpec {
  name: string;
  image: string;
  network: string;
  pool: string;
  ipv4Address?: string;
  config: Record<string, string>;
  /** The root disk's size, e.g. "10GiB"; unset: the pool's default (no limit). */
  rootSize?: string;
  start: boolean;
}

/**
 * Start-if-stopped. An instance made earlier (`existing`; undefined: just made, so stopped and
 * shaped) first gets the shape (isolated NIC, limits) it may lack, e.g. from an older agent.
 */
export async function ensureRunning(
  lxd: LxdClient,
  name: string,
  existing: LxdInstance | undefined,
  shape: InstanceShape,
  progress: (step: string, message: string) => void,
  options: InstanceCreateOptions,
): Promise<void> {
  if (existing?.status === "Running") {
    progress("start", `${name} is already running`);
  } else {
    if (existing) await shapeStoppedInstance(lxd, existing, shape, (m) => progress("start", m));
    progress("start", `starting ${name}`);
    await lxd.startInstance(name);
  }
  await options.firewall?.refresh();
}

/**
 * Create-if-absent, then start-if-stopped, then wait for the reserved address: the part that
 * instance.create and instance.deploy share. Steps reported: create, start, network. Answers the
 * instance's summary when the address wait already read it (a state read costs LXD ~8 ms).
 */
export async function ensureInstance(
  lxd: LxdClient,
  spec: EnsureInstanceSpec,
  progress: (step: string, message: string) => void,
  signal: AbortSignal,
  options: InstanceCreateOptions = {},
): Promise<InstanceSummary | undefined> {
  const { name, image, network, pool, ipv4Address, rootSize } = spec;
  await settleInstance(lxd, name, (m) => progress("create", m));

  let existing = await lxd.getInstance(name);
  if (existing) {
    progress("create", `${name} already exists`);
  } else {
    progress("create", `creating ${name} from ${image}${ipv4Address ? ` with ${ipv4Address}` : ""}`);
    const eth0: LxdDevice = { type: "nic", name: "eth0", network, ...(ipv4Address ? { "ipv4.address": ipv4Address } : {}), ...NIC_ISOLATION };
    const root: LxdDevice = { type: "disk", path: "/", pool, ...(rootSize ? { size: rootSize } : {}) };
    try {
      await lxd.createInstance({ name, image, config: spec.config, devices: { eth0, root } });
    } catch (err) {
      // 409 is also LXD's answer to an address clash: only "it exists now" counts as done.
      if (!(err instanceof LxdError && err.status === 409 && (existing = await lxd.getInstance(name)))) throw err;
    }
  }

  if (!spec.start) return undefined;
  await ensureRunning(lxd, name, existing, { config: spec.config, ...(rootSize ? { rootSize } : {}) }, progress, options);
  if (!ipv4Address) return undefined;
  progress("network", `waiting for ${name} to get ${ipv4Address}`);
  const addresses = await waitForAddress(lxd, { name, address: ipv4Address, network }, signal, options.addressTimeoutMs);
  return { name, status: "Running", ipv4: addresses[0] ?? null };
}

export const instanceCreate = (options: InstanceCreateOptions = {}): Handler<"instance.create"> => ({
  lxd: "required",
  async run({ lxd, payload, progress, signal }) {
    return (await ensureInstance(lxd, payload, progress, signal, options)) ?? summarize(lxd, payload.name);
  },
});

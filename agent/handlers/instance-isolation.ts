import type { LxdClient } from "../lxd/client";
import type { LxdDevice, LxdInstance } from "../lxd/types";

/**
 * LXD's options on an instance's bridged NIC that keep tenants apart on a shared bridge: no frame
 * reaches another instance's port (port isolation), and frames, ARP and IP packets leave the
 * instance only with its own MAC and its own reserved address, so claiming a neighbour's address
 * or MAC draws none of the neighbour's traffic. The host's side is agent/isolation/host-firewall.ts.
 */
export const NIC_ISOLATION: Readonly<LxdDevice> = {
  "security.ipv4_filtering": "true",
  "security.mac_filtering": "true",
  "security.port_isolation": "true",
};

export interface InstanceShape {
  /** Config keys the instance must have (limits.*). */
  config?: Record<string, string>;
  /** The root disk's size, e.g. "10GiB"; unset: left as it is. */
  rootSize?: string;
}

const differs = (have: LxdDevice | undefined, want: LxdDevice) => Object.entries(want).some(([k, v]) => have?.[k] !== v);

/** The PATCH that gives an existing instance the isolated NIC, the limits and the root size; undefined when it has them. */
export function instancePatch(instance: LxdInstance, shape: InstanceShape): Parameters<LxdClient["updateInstance"]>[1] | undefined {
  const config = Object.fromEntries(Object.entries(shape.config ?? {}).filter(([k, v]) => instance.config[k] !== v));
  const devices: Record<string, LxdDevice> = {};
  // A profile's device is overridden by an instance device of the same name.
  const eth0 = instance.devices.eth0 ?? instance.expanded_devices?.eth0;
  if (eth0?.type === "nic" && differs(eth0, NIC_ISOLATION)) devices.eth0 = { ...eth0, ...NIC_ISOLATION };
  const root = instance.devices.root ?? instance.expanded_devices?.root;
  if (root && shape.rootSize && root.size !== shape.rootSize) devices.root = { ...root, size: shape.rootSize };
  if (Object.keys(config).length === 0 && Object.keys(devices).length === 0) return undefined;
  return {
    ...(Object.keys(config).length ? { config } : {}),
    ...(Object.keys(devices).length ? { devices } : {}),
  };
}

/**
 * Brings an existing instance to the shape before it starts. Only while it is stopped: LXD applies
 * a NIC change to a running instance by replacing the NIC, which leaves the guest's eth0 down.
 */
export async function shapeStoppedInstance(
  lxd: LxdClient,
  instance: LxdInstance,
  shape: InstanceShape,
  report: (message: string) => void,
): Promise<void> {
  const patch = instancePatch(instance, shape);
  if (!patch) return;
  report(`updating ${instance.name}: ${[...Object.keys(patch.config ?? {}), ...Object.keys(patch.devices ?? {})].join(", ")}`);
  await lxd.updateInstance(instance.name, patch);
}

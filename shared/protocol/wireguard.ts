import { z } from "zod";
import { endpoint } from "./host-address";

/**
 * WireGuard values in the agent protocol. The agent passes them to `wg` and `nft`, so the
 * schemas are strict: anything they accept is safe as a single argv element or nft token.
 */

/** Base64 of exactly 32 bytes with canonical padding, as `wg genkey`/`wg pubkey` print them. */
export const WIREGUARD_KEY_PATTERN = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

export const wireguardKey = z.string().regex(WIREGUARD_KEY_PATTERN, "must be a WireGuard key (base64 of 32 bytes)");

/** Linux interface names: at most 15 bytes; kept to characters that are safe in argv, nft and configs. */
export const interfaceName = z
  .string()
  .regex(/^[a-zA-Z0-9_-]{1,15}$/, "must be 1-15 letters, digits, '_' or '-' (a Linux interface name)");

/** A device's tunnel address: one IPv4 address as a /32, e.g. 10.8.0.2/32. */
export const deviceAddress = z.cidrv4().refine((a) => a.endsWith("/32"), "must be one IPv4 address as a /32, e.g. 10.8.0.2/32");

export const WireGuardPeerSchema = z
  .object({
    publicKey: wireguardKey,
    address: deviceAddress,
    /** The owner's container: the only address this device may reach; null reaches nothing. */
    ownerAddress: z.ipv4().nullable(),
  })
  .strict();
export type WireGuardPeer = z.output<typeof WireGuardPeerSchema>;

/** A whole desired peer set: one entry per key and per address (WireGuard routes each address to one peer). */
export const WireGuardPeerSetSchema = z
  .array(WireGuardPeerSchema)
  .max(65_536)
  .superRefine((peers, ctx) => {
    const keys = new Set<string>();
    const addresses = new Set<string>();
    peers.forEach((peer, i) => {
      if (keys.has(peer.publicKey)) ctx.addIssue({ code: "custom", path: [i, "publicKey"], message: `${peer.publicKey} appears twice` });
      if (addresses.has(peer.address)) ctx.addIssue({ code: "custom", path: [i, "address"], message: `${peer.address} is given to two peers` });
      keys.add(peer.publicKey);
      addresses.add(peer.address);
    });
  });

/**
 * What the control plane needs to configure a device against this host; the private key never
 * leaves it. A host credential is not trusted with people's configs: every value is checked here,
 * where it enters, so a line such as `PostUp = ...` never reaches a wg-quick file.
 */
export const WireGuardFactsSchema = z.object({
  interface: interfaceName,
  publicKey: wireguardKey,
  listenPort: z.number().int().min(1).max(65_535),
  /** The interface's own address with the devices' prefix, e.g. 10.8.0.1/24: device addresses come from that subnet. */
  address: z.cidrv4(),
  /** host:port that devices dial, when the operator configured one. */
  endpoint: endpoint.nullable(),
});

export const WireGuardPeerStatusSchema = z.object({
  publicKey: wireguardKey,
  /** Where the device last sent from; null until its first handshake. */
  endpoint: z.string().nullable(),
  allowedIps: z.array(z.string()),
  latestHandshakeAt: z.iso.datetime().nullable(),
  rxBytes: z.number().int().nonnegative(),
  txBytes: z.number().int().nonnegative(),
});

export const WireGuardSyncResultSchema = z.object({
  added: z.number().int().nonnegative(),
  updated: z.number().int().nonnegative(),
  removed: z.number().int().nonnegative(),
  unchanged: z.number().int().nonnegative(),
});

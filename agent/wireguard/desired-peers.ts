import { z } from "zod";
import { WireGuardPeerSetSchema } from "../../shared/protocol/wireguard";
import type { WireGuardPeer } from "../../shared/protocol/wireguard";
import { readJsonFile, writeFileAtomic } from "../state";

const FileSchema = z.object({ peers: WireGuardPeerSetSchema });

/**
 * The last peer set the control plane asked for, kept in the state directory (0600) so a
 * restarted agent, or a rebooted host, puts the devices back before the control plane answers.
 */
export class DesiredPeers {
  constructor(readonly path: string) {}

  /** [] when nothing was saved yet; throws when the file is damaged (the caller decides what that means). */
  async load(): Promise<WireGuardPeer[]> {
    const read = await readJsonFile(this.path, FileSchema);
    if (read && !read.ok) throw new Error(`${this.path} is damaged: ${read.problem}`);
    return read?.value.peers ?? [];
  }

  async save(peers: readonly WireGuardPeer[]): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify({ peers })}\n`, 0o600);
  }
}

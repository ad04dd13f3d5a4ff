import { readFile } from "node:fs/promises";
import { z } from "zod";
import { WireGuardPeerSetSchema } from "../../shared/protocol/wireguard";
import type { WireGuardPeer } from "../../shared/protocol/wireguard";
import { writeFileAtomic } from "../state";

const FileSchema = z.object({ peers: WireGuardPeerSetSchema });

/**
 * The last peer set the control plane asked for, kept in the state directory (0600) so a
 * restarted agent, or a rebooted host, puts the devices back before the control plane answers.
 */
export class DesiredPeers {
  constructor(readonly path: string) {}

  /** [] when nothing was saved yet; throws when the file is damaged (the caller decides what that means). */
  async load(): Promise<WireGuardPeer[]> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = FileSchema.safeParse(json);
    if (!parsed.success) throw new Error(`${this.path} is damaged: ${parsed.error.issues[0]?.message ?? "invalid"}`);
    return parsed.data.peers;
  }

  async save(peers: readonly WireGuardPeer[]): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify({ peers })}\n`, 0o600);
  }
}

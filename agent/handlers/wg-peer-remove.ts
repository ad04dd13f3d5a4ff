import type { WireGuard } from "../wireguard/manager";
import type { Handler } from "./handler";

export const wgPeerRemove = (wireguard: () => WireGuard): Handler<"wg.peer.remove"> => ({
  lxd: "none",
  run: ({ payload }) => wireguard().removePeer(payload.publicKey),
});

import type { WireGuard } from "../wireguard/manager";
import type { Handler } from "./handler";

export const wgPeerAdd = (wireguard: () => WireGuard): Handler<"wg.peer.add"> => ({
  lxd: "none",
  run: ({ payload }) => wireguard().addPeer(payload),
});

import type { WireGuard } from "../wireguard/manager";
import type { Handler } from "./handler";

export const wgSync = (wireguard: () => WireGuard): Handler<"wg.sync"> => ({
  lxd: "none",
  run: ({ payload }) => wireguard().sync(payload.peers),
});

import type { WireGuard } from "../wireguard/manager";
import type { Handler } from "./handler";

export const wgStatus = (wireguard: () => WireGuard): Handler<"wg.status"> => ({
  lxd: "none",
  run: () => wireguard().status(),
});

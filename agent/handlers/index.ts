import { agentErrorCodes } from "../../shared/protocol/commands";
import type { WireGuard } from "../wireguard/manager";
import { JobError } from "./handler";
import type { Handlers } from "./handler";
import { hostFacts } from "./host-facts";
import type { HostFactsOptions } from "./host-facts";
import { instanceCreate } from "./instance-create";
import type { InstanceCreateOptions } from "./instance-create";
import { instanceDelete } from "./instance-delete";
import { instanceDeploy } from "./instance-deploy";
import { instanceExec } from "./instance-exec";
import { instanceStart } from "./instance-start";
import { instanceStop } from "./instance-stop";
import { noop } from "./noop";
import { wgPeerAdd } from "./wg-peer-add";
import { wgPeerRemove } from "./wg-peer-remove";
import { wgStatus } from "./wg-status";
import { wgSync } from "./wg-sync";

export interface WireGuardHandlersOptions {
  /** Absent: the wg.* commands fail with wireguard_error. */
  wireguard?: WireGuard;
}

export type HandlersOptions = HostFactsOptions & InstanceCreateOptions & WireGuardHandlersOptions;

/** One handler per command kind; the mapped type makes a missing kind a compile error. */
export function createHandlers(options: HandlersOptions): Handlers {
  const wireguard = () => {
    if (!options.wireguard) throw new JobError(agentErrorCodes.wireguard, "this agent has no WireGuard interface configured");
    return options.wireguard;
  };
  return {
    noop,
    "host.facts": hostFacts(options),
    "instance.create": instanceCreate(options),
    "instance.deploy": instanceDeploy(options),
    "instance.start": instanceStart(options),
    "instance.stop": instanceStop,
    "instance.delete": instanceDelete,
    "instance.exec": instanceExec,
    "wg.peer.add": wgPeerAdd(wireguard),
    "wg.peer.remove": wgPeerRemove(wireguard),
    "wg.status": wgStatus(wireguard),
    "wg.sync": wgSync(wireguard),
  };
}

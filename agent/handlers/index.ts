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

export type HandlersOptions = HostFactsOptions & InstanceCreateOptions;

/** One handler per command kind; the mapped type makes a missing kind a compile error. */
export function createHandlers(options: HandlersOptions): Handlers {
  return {
    noop,
    "host.facts": hostFacts(options),
    "instance.create": instanceCreate(options),
    "instance.deploy": instanceDeploy(options),
    "instance.start": instanceStart,
    "instance.stop": instanceStop,
    "instance.delete": instanceDelete,
    "instance.exec": instanceExec,
  };
}

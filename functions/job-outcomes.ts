import type { Config } from "../shared/config";
import { jobOutcomes } from "./core/jobs/outcomes";
import { applyDeviceOutcome, deviceWaitsOn } from "./devices/outcome";
import { applyHookRunOutcome } from "./hooks/outcome";
import { applyInstanceOutcome, instanceWaitsOn } from "./instances/outcome";
import { recordJobFailed } from "./jobs/events";

/** Which capability a finished job's outcome changes, by the job's kind: wired once where the services are composed. */
export function registerJobOutcomes(config: Pick<Config, "appsUrl" | "idleStop">): void {
  jobOutcomes.register("instance.", (tx, job) => applyInstanceOutcome(tx, job, config), instanceWaitsOn);
  jobOutcomes.register("wg.", applyDeviceOutcome, deviceWaitsOn);
  // Deploy-hook runs are exec jobs (the longest prefix wins over "instance.").
  jobOutcomes.register("instance.exec", applyHookRunOutcome);
  jobOutcomes.onFailure(recordJobFailed);
}

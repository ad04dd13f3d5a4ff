import { jobOutcomes } from "./core/jobs/outcomes";
import { applyDeviceOutcome, deviceWaitsOn } from "./devices/outcome";
import { applyHookRunOutcome } from "./hooks/outcome";
import { applyInstanceOutcome, instanceWaitsOn } from "./instances/outcome";

/** Which capability a finished job's outcome changes, by the job's kind: wired once where the services are composed. */
export function registerJobOutcomes(): void {
  jobOutcomes.register("instance.", applyInstanceOutcome, instanceWaitsOn);
  jobOutcomes.register("wg.", applyDeviceOutcome, deviceWaitsOn);
  // Deploy-hook runs are exec jobs (the longest prefix wins over "instance.").
  jobOutcomes.register("instance.exec", applyHookRunOutcome);
}

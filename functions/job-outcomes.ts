import { jobOutcomes } from "./core/jobs/outcomes";
import { applyDeviceOutcome } from "./devices/outcome";
import { applyHookRunOutcome } from "./hooks/outcome";
import { applyInstanceOutcome } from "./instances/outcome";

/** Which capability a finished job's outcome changes, by the job's kind: wired once where the services are composed. */
export function registerJobOutcomes(): void {
  jobOutcomes.register("instance.", applyInstanceOutcome);
  jobOutcomes.register("wg.", applyDeviceOutcome);
  // Deploy-hook runs are exec jobs (the longest prefix wins over "instance.").
  jobOutcomes.register("instance.exec", applyHookRunOutcome);
}

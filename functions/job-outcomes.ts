import { jobOutcomes } from "./core/jobs/outcomes";
import { applyDeviceOutcome, deviceWaitsOn } from "./devices/outcome";
import { applyInstanceOutcome, instanceWaitsOn } from "./instances/outcome";

/** Which capability a finished job's outcome changes, by the job's kind: wired once where the services are composed. */
export function registerJobOutcomes(): void {
  jobOutcomes.register("instance.", applyInstanceOutcome, instanceWaitsOn);
  jobOutcomes.register("wg.", applyDeviceOutcome, deviceWaitsOn);
}

import { jobOutcomes } from "./core/jobs/outcomes";
import { applyDeviceOutcome } from "./devices/outcome";
import { applyInstanceOutcome } from "./instances/outcome";

/** Which capability a finished job's outcome changes, by the job's kind: wired once where the services are composed. */
export function registerJobOutcomes(): void {
  jobOutcomes.register("instance.", applyInstanceOutcome);
  jobOutcomes.register("wg.", applyDeviceOutcome);
}

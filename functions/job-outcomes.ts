import type { Config } from "../shared/config";
import { jobOutcomes } from "./core/jobs/outcomes";
import { applyDeviceOutcome } from "./devices/outcome";
import { applyInstanceOutcome } from "./instances/outcome";
import { recordJobFailed } from "./jobs/events";

/** Which capability a finished job's outcome changes, by the job's kind: wired once where the services are composed. */
export function registerJobOutcomes(config: Pick<Config, "appsUrl">): void {
  jobOutcomes.register("instance.", (tx, job) => applyInstanceOutcome(tx, job, config.appsUrl));
  jobOutcomes.register("wg.", applyDeviceOutcome);
  jobOutcomes.onFailure(recordJobFailed);
}

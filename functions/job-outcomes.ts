import type { Config } from "../shared/config";
import { auditedOutcome } from "./audit/record";
import { jobOutcomes } from "./core/jobs/outcomes";
import { applyDeviceOutcome, deviceWaitsOn } from "./devices/outcome";
import { applyHookRunOutcome } from "./hooks/outcome";
import { applyInstanceOutcome, instanceWaitsOn } from "./instances/outcome";
import { recordJobFailed } from "./jobs/events";

/**
 * Which capability a finished job's outcome changes, by the job's kind: wired once where the
 * services are composed. Each handler is wrapped so the job's end is recorded in the audit log in
 * the same transaction (a capability that adds a job kind registers it the same way).
 */
export function registerJobOutcomes(config: Pick<Config, "appsUrl" | "idleStop">): void {
  jobOutcomes.register("instance.", auditedOutcome((tx, job) => applyInstanceOutcome(tx, job, config)), instanceWaitsOn);
  jobOutcomes.register("wg.", auditedOutcome(applyDeviceOutcome), deviceWaitsOn);
  // Deploy-hook runs are exec jobs (the longest prefix wins over "instance.").
  jobOutcomes.register("instance.exec", auditedOutcome(applyHookRunOutcome));
  jobOutcomes.onFailure(recordJobFailed);
}

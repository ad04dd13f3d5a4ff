import { auditedOutcome } from "./audit/record";
import { jobOutcomes } from "./core/jobs/outcomes";
import { applyDeviceOutcome } from "./devices/outcome";
import { applyInstanceOutcome } from "./instances/outcome";

/**
 * Which capability a finished job's outcome changes, by the job's kind: wired once where the
 * services are composed. Each handler is wrapped so the job's end is recorded in the audit log in
 * the same transaction (a capability that adds a job kind registers it the same way).
 */
export function registerJobOutcomes(): void {
  jobOutcomes.register("instance.", auditedOutcome(applyInstanceOutcome));
  jobOutcomes.register("wg.", auditedOutcome(applyDeviceOutcome));
}

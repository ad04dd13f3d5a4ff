import type { Database } from "../../../shared/db";
import type { Job } from "../../../shared/db/schema";
import { applyDeviceOutcome } from "../../devices/outcome";
import { applyInstanceOutcome } from "../../instances/outcome";

/** The kinds of job whose outcome changes a resource's row; other kinds (noop, host.facts) change only their own. */
export const EFFECT_KIND_PREFIXES = ["instance.", "wg."] as const;

/** What a finished job changes besides its own row, by the kind of resource it worked on. */
export async function applyJobEffects(tx: Database, job: Job): Promise<void> {
  if (job.kind.startsWith("instance.")) await applyInstanceOutcome(tx, job);
  else if (job.kind.startsWith("wg.")) await applyDeviceOutcome(tx, job);
}

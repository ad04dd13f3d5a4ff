import type { BodyOf } from "../functions/api-types";
import type { ApiClient } from "./api";
import { CliError } from "./errors";

export type Job = BodyOf<"GET", "/api/v1/jobs/:id", 200>["job"];

/** Until the job ends: each new step goes to `step` as it is seen (polled every `everyMs`); a failed job is a CliError. */
export async function waitForJob(api: ApiClient, id: string, step: (message: string) => void, everyMs = 500): Promise<Job> {
  let seen = 0;
  for (;;) {
    const { job } = await api.call("GET", `/jobs/${id}`);
    for (const s of job.steps.slice(seen)) step(s.message);
    seen = job.steps.length;
    if (job.status === "failed") throw new CliError(`${job.kind} failed: ${job.error?.message ?? "no reason given"}`, 1, "see `kws instance status`, then try again");
    if (job.status === "succeeded") return job;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

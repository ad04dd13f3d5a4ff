import type { Database } from "../db";
import { coalesce } from "../db/coalesce";
import type { Job } from "../db/schema";
import { finishJobs, markRunningJobs, type Finish, type RunningMark } from "./store";

/**
 * What a gateway writes per job, coalesced across all its agents: the deliveries and results that
 * arrive together are stored in one statement, so the jobs table is not a commit per event.
 */
export interface JobRecorder {
  markRunning(mark: RunningMark): Promise<Job | undefined>;
  finish(finish: Finish): Promise<Job | undefined>;
}

export function createJobRecorder(db: Database): JobRecorder {
  return {
    markRunning: coalesce((marks: RunningMark[]) => markRunningJobs(db, marks)),
    finish: coalesce((finishes: Finish[]) => finishJobs(db, finishes)),
  };
}

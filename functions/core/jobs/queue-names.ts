/** Each host has one durable work queue, consumed only while its agent is connected. */
export const hostQueue = (hostId: string) => `kws.host.${hostId}`;

/** What a queue message carries: only the job id; the job row is the truth. */
export interface JobMessage {
  jobId: string;
}

export const JOB_MAX_ATTEMPTS = 3;

import { type ApiClient, apiError, type Ok } from "./api";
import { CliError, notSignedIn } from "./errors";
import type { Output } from "./output";

export type Job = Ok<"GET", "/jobs/x">["job"];
type Step = Job["steps"][number];

interface ServerEvent {
  event: string;
  id?: string;
  data: string;
}

/** Server-sent events of a response body, as they arrive. */
async function* serverEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerEvent> {
  let buffer = "";
  const decoder = new TextDecoder();
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, "\n");
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event: ServerEvent = { event: "message", data: "" };
      for (const line of block.split("\n")) {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event.event = value;
        else if (field === "id") event.id = value;
        else if (field === "data") event.data += event.data ? `\n${value}` : value;
      }
      if (event.data) yield event;
    }
  }
}

// A dropped stream is opened again where it stopped (Last-Event-ID), a few times.
const RECONNECTS = 5;

/**
 * Follows a job's event stream to its end, each step into the progress display; answers the final
 * job. A failed job is a CliError with the job's reason.
 */
export async function followJob(api: ApiClient, out: Output, jobId: string, what: string): Promise<Job> {
  const progress = out.progress();
  let lastId: string | undefined;
  for (let attempt = 0; attempt <= RECONNECTS; attempt++) {
    const res = await api.fetch(`/api/v1/jobs/${jobId}/events`, { headers: { accept: "text/event-stream", ...(lastId ? { "last-event-id": lastId } : {}) } });
    if (!res.ok || !res.body) {
      progress.end(false);
      throw await apiError(res);
    }
    try {
      for await (const e of serverEvents(res.body)) {
        if (e.event === "step") {
          lastId = e.id ?? lastId;
          const step = JSON.parse(e.data) as Step;
          progress.step(step.message || step.step);
        } else if (e.event === "end") {
          const job = JSON.parse(e.data) as Job;
          if (job.status === "succeeded") {
            progress.end(true);
            return job;
          }
          progress.end(false);
          throw new CliError(`${what} failed: ${job.error?.message ?? "no reason given"}`, 1, undefined, job.error?.code);
        } else if (e.event === "revoked") {
          progress.end(false);
          throw notSignedIn(`not signed in any more: ${(JSON.parse(e.data) as { message: string }).message}`);
        }
      }
    } catch (err) {
      if (err instanceof CliError) throw err;
      // The connection dropped mid-stream: open it again below.
    }
  }
  progress.end(false);
  throw new CliError(`lost the event stream of job ${jobId}`, 1, "see where it stands with `kws instance status`");
}

/**
 * Until the job ends, polling every `everyMs`: each new step goes to `step` as it is seen; a
 * failed job is a CliError. For `kws ssh`, whose stdout may be the SSH byte stream (--stdio), so
 * steps go to a line callback rather than the progress display.
 */
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

import type { Db } from "../../shared/db";
import type { Hook, HookRun, Job } from "../../shared/db/schema";
import type { CommandPayload } from "../../shared/protocol/commands";
import { insertJob } from "../core/jobs/store";
import { instanceOfUser } from "../instances/queries";
import { OUTPUT_BYTES, RUN_TIMEOUT_SECONDS } from "./schemas";
import { updateRun } from "./queries";

/**
 * The command's wrapper in the instance: a login shell of the person's user (`su -l`: their
 * environment, in their home directory), stdout and stderr together, only the last 64 KB kept
 * (cut in the container, so LXD's output log on the host stays small whatever the command writes),
 * stopped after the time limit; the exit code is the command's. Every value is an environment
 * variable of the exec, never spliced into this script.
 */
const RUNNER = 'timeout --kill-after=10 "$KWS_HOOK_TIMEOUT" su -l "$KWS_HOOK_USER" -c "$KWS_HOOK_COMMAND" 2>&1 | tail -c "$KWS_HOOK_OUTPUT_BYTES"; exit "${PIPESTATUS[0]}"';

function execPayload(instance: string, username: string, command: string): CommandPayload<"instance.exec"> {
  return {
    name: instance,
    command: ["/bin/bash", "-c", RUNNER],
    env: { KWS_HOOK_USER: username, KWS_HOOK_COMMAND: command, KWS_HOOK_TIMEOUT: String(RUN_TIMEOUT_SECONDS), KWS_HOOK_OUTPUT_BYTES: String(OUTPUT_BYTES) },
  };
}

export type Started = { ok: true; run: HookRun; job: Job } | { ok: false; reason: string };

/**
 * Starts `run` in `tx`: its exec job in the hook owner's instance (the caller sends the job once
 * `tx` commits) and the run marked running. Not when the person has no running instance: the
 * reason why.
 */
export async function startRun(tx: Db, hook: Hook, run: HookRun, deadlineSeconds: number): Promise<Started> {
  const instance = await instanceOfUser(tx, hook.userId);
  if (!instance) return { ok: false, reason: "you have no instance to run the command in" };
  if (instance.state !== "running") return { ok: false, reason: `your instance is ${instance.state}, not running` };
  const job = await insertJob(tx, {
    hostId: instance.hostId,
    userId: hook.userId,
    kind: "instance.exec",
    payload: execPayload(instance.name, instance.username, hook.command),
    deadline: new Date(Date.now() + deadlineSeconds * 1000),
  });
  return { ok: true, job, run: await updateRun(tx, run.id, { status: "running", jobId: job.id, startedAt: new Date() }) };
}

/** The last `max` bytes of `text` (UTF-8), cut at a character boundary. */
export function tailBytes(text: string, max = OUTPUT_BYTES): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= max) return text;
  let start = bytes.length - max;
  // Continuation bytes (10xxxxxx) belong to the character before them.
  while (start < bytes.length && (bytes[start]! & 0xc0) === 0x80) start++;
  return bytes.subarray(start).toString("utf8");
}

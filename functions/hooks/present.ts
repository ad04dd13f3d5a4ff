import type { Hook, HookRun } from "../../shared/db/schema";
import type { HookJson, HookRunJson } from "./schemas";

/** Where a hook's provider sends its deliveries (`publicUrl`: config.publicUrl). */
export const hookUrl = (publicUrl: string, hook: Pick<Hook, "id">) => `${publicUrl}/hooks/v1/${hook.id}`;

export function presentHook(hook: Hook, publicUrl: string): HookJson {
  return { id: hook.id, name: hook.name, provider: hook.provider, command: hook.command, url: hookUrl(publicUrl, hook), createdAt: hook.createdAt.toISOString() };
}

export function presentRun(run: HookRun): HookRunJson {
  return {
    id: run.id,
    status: run.status,
    event: run.event,
    jobId: run.jobId,
    exitCode: run.exitCode,
    output: run.output,
    error: run.error,
    createdAt: run.createdAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    finishedAt: run.finishedAt?.toISOString() ?? null,
  };
}

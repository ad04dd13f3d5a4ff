import type { SecretBox } from "../../../shared/crypto/secret-box";

/**
 * Secrets inside a job's payload (an instance password) are stored sealed, as `{ "$sealed": "v1…" }`
 * bound to the job id, so the jobs table never holds them in the clear. The gateway opens them just
 * before the command goes to the agent over its websocket.
 */
export interface SealedValue {
  $sealed: string;
}

const context = (jobId: string, key: string) => `job:${jobId}:${key}`;

function isSealed(value: unknown): value is SealedValue {
  return typeof value === "object" && value !== null && typeof (value as SealedValue).$sealed === "string" && Object.keys(value).length === 1;
}

export async function sealValue(box: SecretBox, jobId: string, key: string, plaintext: string): Promise<SealedValue> {
  return { $sealed: await box.seal(plaintext, context(jobId, key)) };
}

/** The payload with its top-level sealed values opened; the same object when it has none. */
export async function openSealedPayload(
  box: SecretBox | undefined,
  jobId: string,
  payload: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const sealedKeys = Object.keys(payload).filter((k) => isSealed(payload[k]));
  if (sealedKeys.length === 0) return payload;
  if (!box) throw new Error("the job carries a sealed secret but this gateway has no KWS_SECRET_KEY");
  const opened = { ...payload };
  for (const key of sealedKeys) opened[key] = await box.open((payload[key] as SealedValue).$sealed, context(jobId, key));
  return opened;
}

import { z } from "@hono/zod-openapi";
import { type QuotaKey, quotaKeys, quotaNouns } from "./limits";

/** What an override may be: an instance needs 64 MB, one CPU and 1 GiB; a count may be 0 (none allowed). */
const bounds: Record<QuotaKey, [number, number]> = {
  instanceMemoryMB: [64, 1_048_576],
  instanceCpus: [1, 1024],
  instanceDiskGB: [1, 65_536],
  devices: [0, 1000],
  pgUsers: [0, 1000],
  pgDatabases: [0, 1000],
  apps: [0, 1000],
  domains: [0, 1000],
  webhooks: [0, 1000],
};

const each = <T extends z.ZodType>(field: (key: QuotaKey) => T) => Object.fromEntries(quotaKeys.map((key) => [key, field(key)])) as Record<QuotaKey, T>;

export const QuotasSchema = z.object(each((key) => z.number().int().openapi({ description: quotaNouns[key] }))).openapi("Quotas");

export const quotaValue = (key: QuotaKey) => {
  const [min, max] = bounds[key];
  return z.coerce.number({ message: "must be a whole number" }).int("must be a whole number").min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);
};

/** The overrides to change: a number sets one, null gives the person the default again; keys left out stay as they are. */
export const SetQuotasBody = z
  .strictObject(each((key) => quotaValue(key).nullable().optional()))
  .openapi("SetQuotas", { example: { devices: 5, apps: null } });

export const OwnQuotasResponse = z.object({ quotas: QuotasSchema }).openapi("OwnQuotas");

export const PersonQuotasResponse = z
  .object({
    userId: z.uuid(),
    email: z.string(),
    quotas: QuotasSchema.openapi({ description: "What applies to the person" }),
    defaults: QuotasSchema.openapi({ description: "The operator's defaults (KWS_QUOTA_*, KWS_INSTANCE_*)" }),
    overrides: QuotasSchema.partial().openapi({ description: "The person's own values" }),
  })
  .openapi("PersonQuotas");

export const PersonParam = z.object({ userId: z.uuid({ message: "must be a person's id" }) });

export type PersonQuotas = z.infer<typeof PersonQuotasResponse>;

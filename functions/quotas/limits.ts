import type { Config } from "../../shared/config";
import type { Db } from "../../shared/db";
import { AppError } from "../core/errors";
import { lockUser } from "../core/locks";
import { overrideRows } from "./queries";

export type Quotas = Config["quotas"];
export type QuotaKey = keyof Quotas;

/** What each quota limits, as the API and pages name it. */
export const quotaNouns: Record<QuotaKey, string> = {
  instanceMemoryMB: "MB of instance memory",
  instanceCpus: "instance CPUs",
  instanceDiskGB: "GiB of instance disk",
  devices: "devices",
  pgUsers: "database users",
  pgDatabases: "databases",
  apps: "apps",
  domains: "domains",
  webhooks: "webhooks",
};

export const quotaKeys = Object.keys(quotaNouns) as [QuotaKey, ...QuotaKey[]];

/** The person's limits: the operator's defaults, with an administrator's overrides. */
export async function quotasOf(db: Db, config: Pick<Config, "quotas">, userId: string): Promise<Quotas> {
  return { ...config.quotas, ...overridesOf(await overrideRows(db, userId)) };
}

/** The rows of keys this version knows (a key a later version dropped is ignored). */
export function overridesOf(rows: Record<string, number>): Partial<Quotas> {
  return Object.fromEntries(Object.entries(rows).filter(([key]) => key in quotaNouns));
}

/**
 * The one check before a person gets one more of something: call it inside the transaction that
 * creates it, before the insert. It takes the person's lock (functions/core/locks.ts; harmless if
 * the caller holds it already), so concurrent creations are counted one after the other and never
 * pass the limit together; `count` runs under that lock. Over the limit: 409 `limit` naming the quota.
 */
export async function enforceQuota(tx: Db, config: Pick<Config, "quotas">, userId: string, key: QuotaKey, count: () => Promise<number>): Promise<void> {
  await lockUser(tx, userId);
  const limit = (await quotasOf(tx, config, userId))[key];
  const used = await count();
  if (used + 1 > limit) {
    throw new AppError("limit", `quota ${key}: you have ${used} ${quotaNouns[key]} and your limit is ${limit}; remove one first`);
  }
}

import { findUserById } from "../auth/users";
import { audit, type Person } from "../audit/record";
import { AppError } from "../core/errors";
import { lockUser } from "../core/locks";
import type { Services } from "../services";
import { type QuotaKey, overridesOf } from "./limits";
import { deleteOverrides, overrideRows, upsertOverrides } from "./queries";
import type { PersonQuotas } from "./schemas";

const noPerson = () => new AppError("not_found", "no person with that id");

export type QuotaChanges = Partial<Record<QuotaKey, number | null>>;

/** A person's limits, the defaults and their overrides (administrators). */
export async function personQuotas(s: Services, userId: string): Promise<PersonQuotas> {
  const user = await findUserById(s.db, userId);
  if (!user) throw noPerson();
  const overrides = overridesOf(await overrideRows(s.db, userId));
  return { userId, email: user.email, quotas: { ...s.config.quotas, ...overrides }, defaults: s.config.quotas, overrides };
}

/**
 * Sets or clears a person's overrides under their lock, so no creation of theirs is counted against
 * half a change. Lowering a limit below what they have removes nothing: only new ones are refused.
 */
export async function setPersonQuotas(s: Services, admin: Person, userId: string, changes: QuotaChanges): Promise<PersonQuotas> {
  const entries = Object.entries(changes) as [QuotaKey, number | null | undefined][];
  const set = entries.filter((e): e is [QuotaKey, number] => typeof e[1] === "number");
  const cleared = entries.filter(([, v]) => v === null).map(([key]) => key);
  if (!(await findUserById(s.db, userId))) throw noPerson();
  await s.db.transaction(async (tx) => {
    await lockUser(tx, userId);
    await upsertOverrides(tx, userId, set);
    await deleteOverrides(tx, userId, cleared);
    await audit(tx, admin, { action: "quota.set", target: { type: "account", id: userId }, subjectUserId: userId, detail: { changes } });
  });
  return personQuotas(s, userId);
}

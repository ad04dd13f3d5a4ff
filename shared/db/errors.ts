/** The constraint a unique violation (SQLSTATE 23505) hit, whichever driver raised it. */
export function uniqueViolation(err: unknown): string | undefined {
  for (let e = err as Record<string, unknown> | undefined; e && typeof e === "object"; e = e.cause as never) {
    if (e.code === "23505") return String(e.constraint_name ?? e.constraint ?? "");
  }
  return undefined;
}

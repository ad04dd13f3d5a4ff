function violated(err: unknown, sqlState: string): string | undefined {
  for (let e = err as Record<string, unknown> | undefined; e && typeof e === "object"; e = e.cause as never) {
    if (e.code === sqlState) return String(e.constraint_name ?? e.constraint ?? "");
  }
  return undefined;
}

/** The constraint a unique violation (SQLSTATE 23505) hit, whichever driver raised it. */
export const uniqueViolation = (err: unknown) => violated(err, "23505");

/** The constraint a foreign-key violation (SQLSTATE 23503) hit: the row referred to does not exist. */
export const foreignKeyViolation = (err: unknown) => violated(err, "23503");

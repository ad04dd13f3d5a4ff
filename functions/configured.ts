import { AppError } from "./core/errors";

/**
 * The one guard of an optional dependency (job queue, secret box, PostgreSQL cluster): its value,
 * or 503 not_configured with `message` saying what the deployment lacks.
 */
export function configured<T>(value: T | undefined, message: string): T {
  if (value === undefined) throw new AppError("not_configured", message);
  return value;
}

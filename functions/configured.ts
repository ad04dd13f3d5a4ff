import { AppError } from "./core/errors";
import type { Services } from "./services";

/**
 * The one guard of an optional dependency (job queue, secret box, PostgreSQL cluster): its value,
 * or 503 not_configured with `message` saying what the deployment lacks.
 */
export function configured<T>(value: T | undefined, message: string): T {
  if (value === undefined) throw new AppError("not_configured", message);
  return value;
}

/** The job queue and the secret box, which only the Node control plane has: else 503 saying `what` needs them. */
export function queueAndBox(s: Pick<Services, "queue" | "secretBox">, what: string) {
  const message = `${what} need the Node control plane (job queue and KWS_SECRET_KEY)`;
  return { queue: configured(s.queue, message), box: configured(s.secretBox, message) };
}

import { createApp, type ServiceProvider } from "./app";
import { authRoutes } from "./auth/routes";
import { healthRoutes } from "./health/routes";

/** The sign-up API alone: what the edge deployment serves. */
export function createSignupApi(provide: ServiceProvider) {
  return createApp(provide).route("/", healthRoutes).route("/api/v1", authRoutes);
}

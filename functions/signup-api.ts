import { createApp, type ServiceProvider } from "./app";
import { authRoutes } from "./auth/routes";
import { verifyPages } from "./auth/verify-page";
import { healthRoutes } from "./health/routes";
import { staticRoutes } from "./web/routes";

/** The sign-up API alone, with the page its mailed links open: what the edge deployment serves. */
export function createSignupApi(provide: ServiceProvider) {
  return createApp(provide).route("/", healthRoutes).route("/api/v1", authRoutes).route("/", verifyPages).route("/", staticRoutes);
}

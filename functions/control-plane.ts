import { accountPages } from "./account/pages";
import { adminPages } from "./admin/pages";
import { adminRoutes } from "./admin/routes";
import { accountRoutes } from "./account/routes";
import { createApp, type ServiceProvider } from "./app";
import { auditPages } from "./audit/pages";
import { auditRoutes } from "./audit/routes";
import { appPages } from "./apps/pages";
import { appRoutes } from "./apps/routes";
import { authPages } from "./auth/pages";
import { authRoutes } from "./auth/routes";
import { cliLoginPages } from "./cli-login/pages";
import { cliLoginRoutes } from "./cli-login/routes";
import { verifyPages } from "./auth/verify-page";
import { dashboardPages } from "./dashboard/pages";
import { staticRoutes } from "./web/routes";
import { devicePages } from "./devices/pages";
import { domainPages } from "./domains/pages";
import { domainRoutes } from "./domains/routes";
import { deviceRoutes } from "./devices/routes";
import { healthRoutes } from "./health/routes";
import { hookPages } from "./hooks/pages";
import { hookDeliveryRoutes, hookRoutes } from "./hooks/routes";
import { enrollRoutes } from "./hosts/enroll";
import { hostRoutes } from "./hosts/routes";
import { ingressPages, ingressRoutes } from "./ingress/routes";
import { idleRoutes } from "./idle/routes";
import { instancePages } from "./instances/pages";
import { instanceRoutes } from "./instances/routes";
import { jobRoutes } from "./jobs/routes";
import { securitySchemes } from "./middleware/auth";
import { metricsRoutes } from "./metrics/routes";
import { pgPages } from "./pg/pages";
import { pgRoutes } from "./pg/routes";
import { sshKeyRoutes } from "./ssh-keys/routes";
import { quotaPages } from "./quotas/pages";
import { quotaRoutes } from "./quotas/routes";
import { tokenRoutes } from "./tokens/routes";
import { webhookPages } from "./webhooks/pages";
import { webhookRoutes } from "./webhooks/routes";

/** Every function of the control plane, composed into one app (the Node deployment). */
export function createControlPlane(provide: ServiceProvider) {
  const app = createApp(provide)
    .route("/", healthRoutes)
    .route("/", metricsRoutes)
    .route("/api/v1", authRoutes)
    .route("/api/v1", accountRoutes)
    .route("/api/v1", tokenRoutes)
    .route("/api/v1", cliLoginRoutes)
    .route("/api/v1", hostRoutes)
    .route("/api/v1", adminRoutes)
    .route("/api/v1", enrollRoutes)
    .route("/api/v1", jobRoutes)
    .route("/api/v1", instanceRoutes)
    .route("/api/v1", idleRoutes)
    .route("/api/v1", deviceRoutes)
    .route("/api/v1", pgRoutes)
    .route("/api/v1", appRoutes)
    .route("/api/v1", sshKeyRoutes)
    .route("/api/v1", domainRoutes)
    .route("/api/v1", webhookRoutes)
    .route("/api/v1", ingressRoutes)
    .route("/api/v1", hookRoutes)
    .route("/", hookDeliveryRoutes)
    .route("/api/v1", quotaRoutes)
    .route("/api/v1", auditRoutes)
    .route("/", staticRoutes)
    .route("/", authPages)
    .route("/", verifyPages)
    .route("/", accountPages)
    .route("/", dashboardPages)
    .route("/", pgPages)
    .route("/", instancePages)
    .route("/", devicePages)
    .route("/", appPages)
    .route("/", domainPages)
    .route("/", hookPages)
    .route("/", cliLoginPages)
    .route("/", webhookPages)
    .route("/", quotaPages)
    .route("/", auditPages)
    .route("/", ingressPages)
    .route("/", adminPages);
  for (const [name, scheme] of Object.entries(securitySchemes)) app.openAPIRegistry.registerComponent("securitySchemes", name, scheme);
  app.doc31("/api/v1/openapi.json", {
    openapi: "3.1.0",
    info: { title: "KWS API", version: "1" },
  });
  return app;
}

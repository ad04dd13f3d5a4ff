import { uniqueViolation } from "../../shared/db/errors";
import { audit, type Person } from "../audit/record";
import { enforceQuota } from "../quotas/limits";
import type { App, AppAccess } from "../../shared/db/schema";
import { AppError } from "../core/errors";
import { labelTaken, lockNames } from "../ingress/names";
import type { Services } from "../services";
import { forgetSite } from "../ingress/resolve";
import { instanceOfUser } from "../instances/queries";
import { appsOfUser, countApps, deleteApp, insertApp, updateApp } from "./queries";
import { recordEvent } from "../webhooks/outbox";
import { presentApp } from "./present";

const nameTaken = (name: string) =>
  new AppError("conflict", `name: ${name} is taken; choose another`, { issues: [{ path: "name", message: "is taken" }] });

const noSuchApp = (name: string) => new AppError("not_found", `you have no app named ${name}`);

export function listApps(s: Services, userId: string): Promise<App[]> {
  return appsOfUser(s.db, userId);
}

/**
 * Publishes a port of the person's instance. The quota check takes the person's lock, making the
 * count and the insert one step (concurrent creates cannot pass the quota together); the names
 * lock keeps app names and instance labels apart.
 */
export async function createApp(s: Services, who: Person, body: { name: string; port: number; access: AppAccess }): Promise<App> {
  const { userId } = who;
  try {
    return await s.db.transaction(async (tx) => {
      await enforceQuota(tx, s.config, userId, "apps", () => countApps(tx, userId));
      const instance = await instanceOfUser(tx, userId);
      if (!instance) throw new AppError("conflict", "publishing needs an instance: deploy yours first (POST /api/v1/instance)");
      await lockNames(tx);
      if (await labelTaken(tx, body.name)) throw nameTaken(body.name);
      const app = await insertApp(tx, { userId, instanceId: instance.id, name: body.name, port: body.port, access: body.access });
      await recordEvent(tx, userId, "app.published", presentApp(app, s.config.appsUrl));
      await audit(tx, who, { action: "app.create", target: { type: "app", id: app.name }, detail: { port: app.port, access: app.access } });
      return app;
    });
  } catch (err) {
    if (uniqueViolation(err) === "apps_name_key") throw nameTaken(body.name);
    throw err;
  }
}

export async function changeApp(s: Services, who: Person, name: string, body: { port?: number; access?: AppAccess }): Promise<App> {
  const app = await s.db.transaction(async (tx) => {
    const changed = await updateApp(tx, who.userId, name, body);
    if (!changed) throw noSuchApp(name);
    await audit(tx, who, { action: "app.change", target: { type: "app", id: name }, detail: body });
    return changed;
  });
  forgetSite(s.db, name);
  return app;
}

export async function removeApp(s: Services, who: Person, name: string): Promise<void> {
  await s.db.transaction(async (tx) => {
    const app = await deleteApp(tx, who.userId, name);
    if (!app) throw noSuchApp(name);
    await recordEvent(tx, who.userId, "app.removed", presentApp(app, s.config.appsUrl));
    await audit(tx, who, { action: "app.remove", target: { type: "app", id: name } });
  });
  forgetSite(s.db, name);
}

import { uniqueViolation } from "../../shared/db/errors";
import { lockUser } from "../core/locks";
import type { App, AppAccess } from "../../shared/db/schema";
import { AppError } from "../core/errors";
import { labelTaken, lockNames } from "../ingress/names";
import type { Services } from "../services";
import { forgetSite } from "../ingress/resolve";
import { instanceOfUser } from "../instances/queries";
import { appsOfUser, countApps, deleteApp, insertApp, updateApp } from "./queries";
import { MAX_APPS } from "./schemas";
import { recordEvent } from "../webhooks/outbox";
import { presentApp } from "./present";

const nameTaken = (name: string) =>
  new AppError("conflict", `name: ${name} is taken; choose another`, { issues: [{ path: "name", message: "is taken" }] });

const noSuchApp = (name: string) => new AppError("not_found", `you have no app named ${name}`);

export function listApps(s: Services, userId: string): Promise<App[]> {
  return appsOfUser(s.db, userId);
}

/**
 * Publishes a port of the person's instance. The person's lock makes the count and the insert one
 * step (two concurrent creates cannot pass 10); the names lock keeps app names and instance
 * labels apart.
 */
export async function createApp(s: Services, userId: string, body: { name: string; port: number; access: AppAccess }): Promise<App> {
  try {
    return await s.db.transaction(async (tx) => {
      await lockUser(tx, userId);
      const instance = await instanceOfUser(tx, userId);
      if (!instance) throw new AppError("conflict", "publishing needs an instance: deploy yours first (POST /api/v1/instance)");
      if ((await countApps(tx, userId)) >= MAX_APPS) throw new AppError("limit", `you have ${MAX_APPS} apps, the most allowed; remove one first`);
      await lockNames(tx);
      if (await labelTaken(tx, body.name)) throw nameTaken(body.name);
      const app = await insertApp(tx, { userId, instanceId: instance.id, name: body.name, port: body.port, access: body.access });
      await recordEvent(tx, userId, "app.published", presentApp(app, s.config.appsUrl));
      return app;
    });
  } catch (err) {
    if (uniqueViolation(err) === "apps_name_key") throw nameTaken(body.name);
    throw err;
  }
}

export async function changeApp(s: Services, userId: string, name: string, body: { port?: number; access?: AppAccess }): Promise<App> {
  const app = await updateApp(s.db, userId, name, body);
  if (!app) throw noSuchApp(name);
  forgetSite(s.db, name);
  return app;
}

export async function removeApp(s: Services, userId: string, name: string): Promise<void> {
  await s.db.transaction(async (tx) => {
    const app = await deleteApp(tx, userId, name);
    if (!app) throw noSuchApp(name);
    await recordEvent(tx, userId, "app.removed", presentApp(app, s.config.appsUrl));
  });
  forgetSite(s.db, name);
}

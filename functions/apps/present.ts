import type { App } from "../../shared/db/schema";
import { appUrl } from "../ingress/names";
import type { AppJson } from "./schemas";

/** `appsUrl`: the apps base (config.appsUrl); the app is served at its name under it. */
export function presentApp(app: App, appsUrl: string): AppJson {
  return { name: app.name, port: app.port, access: app.access, url: appUrl(appsUrl, app.name), createdAt: app.createdAt.toISOString() };
}

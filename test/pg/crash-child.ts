/**
 * A KWS control plane process that SIGKILLs itself around a cluster step, for crash.test.ts.
 *   node --import tsx test/pg/crash-child.ts <METHOD> <path> <json body | -> <before|after> <PgCluster method>
 * Configuration comes from the environment like `npm start`; KWS_TEST_TOKEN is the API token to send.
 * The request goes through the real app (routes, service, transaction); only the kill is added.
 */
import { createControlPlane } from "../../functions/control-plane";
import { createNodeServices } from "../../functions/node-services";
import type { PgCluster } from "../../functions/pg/cluster";
import { parseConfig } from "../../shared/config";
import { createLogger } from "../../shared/logger";

const [method, path, body, when, step] = process.argv.slice(2) as [string, string, string, "before" | "after", keyof PgCluster];
const config = parseConfig(process.env);
const services = await createNodeServices(config, createLogger({ service: "kws-crash-child" }, { level: "warn" }));
const cluster = services.pgCluster as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
const original = cluster[step]!.bind(cluster);
const die = () => process.kill(process.pid, "SIGKILL");
cluster[step] = async (...args: unknown[]) => {
  if (when === "before") die();
  const result = await original(...args);
  if (when === "after") die();
  return result;
};
const app = createControlPlane(async () => ({ services }));
const res = await app.request(path, {
  method,
  headers: { authorization: `Bearer ${process.env.KWS_TEST_TOKEN}`, "content-type": "application/json" },
  body: body === "-" ? undefined : body,
});
console.log(JSON.stringify({ msg: "not killed", status: res.status, body: await res.text() }));
await services.close();
process.exit(3);

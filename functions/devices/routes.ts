import { createRoute } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { JobResponse, presentJob } from "../jobs/schemas";
import { userOnly } from "../middleware/auth";
import { errorResponse, jsonBody, jsonResponse } from "../schemas";
import { presentDevice } from "./present";
import { configQrSvg } from "./qr";
import { personOf } from "../audit/record";
import { ConfigQuery, CreateDeviceBody, CreatedDeviceSchema, DeviceIdParam, DeviceListSchema } from "./schemas";
import { createDevice, deviceConfig, listDevices, removeDevice } from "./service";

const tags = ["devices"];
const common = { 401: errorResponse("Not signed in"), 403: errorResponse("The e-mail address is not verified yet") };

const listRoute = createRoute({
  ...userOnly,
  method: "get",
  path: "/devices",
  tags,
  summary: "Your WireGuard devices, with online state and traffic",
  responses: { 200: jsonResponse(DeviceListSchema, "Your devices"), ...common },
});

const createDeviceRoute = createRoute({
  ...userOnly,
  method: "post",
  path: "/devices",
  tags,
  summary: "Register a device (up to your devices quota); answers its client config",
  request: { body: jsonBody(CreateDeviceBody) },
  responses: {
    201: jsonResponse(CreatedDeviceSchema, "Registered: pending until the host confirms the peer"),
    400: errorResponse("A field breaks a rule (a malformed key, or the host's own key)"),
    409: errorResponse("The key is registered already (code conflict), or you have as many devices as your quota allows (code limit)"),
    503: errorResponse("No host for you, or the host has no WireGuard interface or no public address yet"),
    ...common,
  },
});

const configRoute = createRoute({
  ...userOnly,
  method: "get",
  path: "/devices/{id}/config",
  tags,
  summary: "The device's client config as a .conf file, or with ?format=qr as an SVG QR code",
  request: { params: DeviceIdParam, query: ConfigQuery },
  responses: { 200: { description: "text/plain attachment, or image/svg+xml" }, 404: errorResponse("No device of yours with that id"), ...common },
});

const deleteRoute = createRoute({
  ...userOnly,
  method: "delete",
  path: "/devices/{id}",
  tags,
  summary: "Remove the device: its peer leaves the host and its address is freed",
  request: { params: DeviceIdParam },
  responses: {
    202: jsonResponse(JobResponse, "Queued: the device goes once the host confirms"),
    404: errorResponse("No device of yours with that id"),
    409: errorResponse("The device is busy with another job (error.jobId)"),
    ...common,
  },
});

export const deviceRoutes = createRouter()
  .openapi(listRoute, async (c) => {
    const user = c.get("user");
    const now = Date.now();
    return c.json({ devices: (await listDevices(c.get("services"), user.id)).map((d) => presentDevice(d, now)) }, 200);
  })
  .openapi(createDeviceRoute, async (c) => {
    const user = c.get("user");
    const created = await createDevice(c.get("services"), personOf(c), c.req.valid("json"));
    c.get("log").info("device registered", { deviceId: created.device.id, jobId: created.job.id, userId: user.id });
    return c.json({ device: presentDevice(created.device), job: presentJob(created.job), config: created.config }, 201);
  })
  .openapi(configRoute, async (c) => {
    const user = c.get("user");
    const { device, config } = await deviceConfig(c.get("services"), user.id, c.req.valid("param").id);
    if (c.req.valid("query").format === "qr") {
      return c.body(await configQrSvg(config), 200, { "content-type": "image/svg+xml", "cache-control": "no-store" });
    }
    const filename = `kws-${device.name.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-|-$/g, "") || "device"}.conf`;
    return c.body(config, 200, {
      "content-type": "text/plain; charset=utf-8",
      "content-disposition": `attachment; filename="${filename}"`,
      "cache-control": "no-store",
    });
  })
  .openapi(deleteRoute, async (c) => {
    const user = c.get("user");
    const job = await removeDevice(c.get("services"), personOf(c), c.req.valid("param").id);
    c.get("log").info("device removal queued", { jobId: job.id, userId: user.id });
    return c.json({ job: presentJob(job) }, 202);
  });

import { createRoute } from "@hono/zod-openapi";
import { hashToken, randomToken } from "../../shared/crypto/tokens";
import { AppError } from "../core/errors";
import { enrollHost, hostByEnrollmentToken } from "./store";
import { createRouter } from "../app";
import { HOST_CREDENTIAL_PREFIX } from "./enrollment";
import { clientIp } from "../middleware/client-ip";
import { enforceRateLimit } from "../middleware/rate-limit";
import { errorResponse, jsonBody, jsonResponse } from "../schemas";
import { EnrollBody, EnrolledResponse } from "./schemas";

const enrollRoute = createRoute({
  method: "post",
  path: "/agent/enroll",
  tags: ["hosts"],
  summary: "An agent trades its one-time enrollment token for the host's credential",
  request: { body: jsonBody(EnrollBody) },
  responses: {
    201: jsonResponse(EnrolledResponse, "Enrolled; the credential is shown once"),
    401: errorResponse("Unknown token"),
    410: errorResponse("Token used or expired"),
    429: errorResponse("Too many attempts"),
  },
});

export const enrollRoutes = createRouter().openapi(enrollRoute, async (c) => {
  const { db, kv, config } = c.get("services");
  await enforceRateLimit(kv, `enroll:${clientIp(c)}`, config.rateLimits.enroll);
  const tokenHash = await hashToken(c.req.valid("json").token);
  const credential = randomToken(HOST_CREDENTIAL_PREFIX);
  const host = await enrollHost(db, tokenHash, await hashToken(credential));
  if (!host) {
    const known = await hostByEnrollmentToken(db, tokenHash);
    if (!known) throw new AppError("unauthorized", "unknown enrollment token");
    throw new AppError(
      "gone",
      known.enrolledAt ? "this enrollment token was already used" : "this enrollment token has expired; create a new one",
    );
  }
  c.get("log").info("host enrolled", { hostId: host.id });
  return c.json({ hostId: host.id, hostName: host.name, credential }, 201);
});

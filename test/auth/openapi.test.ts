import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startHarness, type Harness } from "../support/harness";
import type { ApiMethod } from "../support/api";

/**
 * What the OpenAPI document says about authorization and errors, checked against what the routes
 * do: a signed-in route declares its credentials and refuses a request without one.
 */
let h: Harness;
let doc: Record<string, any>;
before(async () => {
  h = await startHarness();
  doc = (await (await h.call("GET", "/api/v1/openapi.json")).json()) as Record<string, any>;
});
after(() => h.close());

const either = [{ session: [] }, { token: [] }];

test("the document names the two credentials: the session cookie and a bearer API token", () => {
  assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ["session", "token"]);
  assert.equal(doc.components.securitySchemes.session.in, "cookie");
  assert.equal(doc.components.securitySchemes.token.scheme, "bearer");
});

test("signed-in and admin routes declare their security and answer 401 without credentials; public ones declare none", async () => {
  const guarded: [string, string][] = [
    ["get", "/api/v1/me"],
    ["get", "/api/v1/instance"],
    ["get", "/api/v1/devices"],
    ["get", "/api/v1/apps"],
    ["get", "/api/v1/pg/users"],
    ["get", "/api/v1/jobs/{id}"],
    ["get", "/api/v1/hosts"],
    ["post", "/api/v1/account/password"],
  ];
  for (const [method, path] of guarded) {
    assert.deepEqual(doc.paths[path][method].security, either, `${method} ${path} declares session or token`);
    const res = await h.call(method.toUpperCase() as ApiMethod, path.replace("{id}", "00000000-0000-0000-0000-000000000000"));
    assert.equal(res.status, 401, `${method} ${path} without credentials`);
  }
  // Tokens are made from a session only.
  assert.deepEqual(doc.paths["/api/v1/tokens"].post.security, [{ session: [] }]);
  for (const [method, path] of [["post", "/api/v1/auth/login"], ["post", "/api/v1/auth/register"]] as const) {
    assert.equal(doc.paths[path][method].security, undefined, `${method} ${path} is public`);
  }
});

test("the error envelope's code is an enum of every code the API answers with", () => {
  const codes: string[] = doc.components.schemas.ErrorCode.enum;
  for (const code of ["invalid", "unauthorized", "forbidden", "not_found", "conflict", "limit", "rate_limited", "not_configured", "no_capacity", "internal"]) {
    assert.ok(codes.includes(code), `${code} listed`);
  }
});

test("a job-starting route documents {job}: device creation answers {device, job, config}", () => {
  const created = doc.paths["/api/v1/devices"].post.responses["201"].content["application/json"].schema;
  const ref = (created.$ref as string).split("/").pop()!;
  assert.deepEqual(Object.keys(doc.components.schemas[ref].properties).sort(), ["config", "device", "job"]);
});

import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { serve } from "@hono/node-server";
import { MAX_BODY_BYTES } from "../../functions/app";
import { newAccount, startHarness, type Harness } from "../support/harness";

/** A POST over real HTTP, its body either declared (Content-Length) or sent in chunks. */
function post(port: number, path: string, chunks: string[], framing: "declared" | "chunked") {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const body = chunks.join("");
    const headers: Record<string, string | number> = { "content-type": "application/json" };
    if (framing === "declared") headers["content-length"] = Buffer.byteLength(body);
    const req = http.request({ host: "127.0.0.1", port, path, method: "POST", headers }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    // The server may answer 413 and close before the whole body is written.
    req.on("error", (err: NodeJS.ErrnoException) => (err.code === "EPIPE" || err.code === "ECONNRESET" ? undefined : reject(err)));
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe("request body limit over real HTTP", () => {
  let h: Harness;
  let server: ReturnType<typeof serve>;
  let port: number;
  before(async () => {
    h = await startHarness();
    server = serve({ fetch: h.app.fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise((r) => server.once("listening", r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    await h.close();
  });

  const oversize = () => {
    const padding = "x".repeat(MAX_BODY_BYTES);
    return [`{"email":"a@b.org","padding":"`, padding.slice(0, MAX_BODY_BYTES / 2), padding.slice(MAX_BODY_BYTES / 2), `"}`];
  };

  for (const framing of ["declared", "chunked"] as const) {
    test(`a ${framing} body over ${MAX_BODY_BYTES} bytes gets 413 with the JSON error`, async () => {
      const res = await post(port, "/api/v1/auth/register", oversize(), framing);
      assert.equal(res.status, 413);
      assert.equal(JSON.parse(res.body).error.code, "payload_too_large");
    });

    test(`a ${framing} body within the limit reaches the route`, async () => {
      const account = JSON.stringify(newAccount());
      const res = await post(port, "/api/v1/auth/register", [account.slice(0, 10), account.slice(10)], framing);
      assert.equal(res.status, 201, res.body);
    });
  }
});

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { Metrics } from "../../functions/metrics/registry";
import { startHarness, type Harness } from "../support/harness";
import { Scrape } from "../support/prometheus";

describe("without KWS_METRICS_TOKEN: loopback callers only", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  test("a direct loopback caller gets the Prometheus text; others 403, and a proxied request from loopback too", async () => {
    await h.call("GET", "/healthz");
    const res = await h.call("GET", "/metrics", { ip: "127.0.0.1" });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const scrape = new Scrape(await res.text());
    assert.ok(scrape.value("kws_http_requests_total", { method: "GET", route: "/healthz", status: "200" }) >= 1);
    assert.equal((await h.call("GET", "/metrics", { ip: "203.0.113.9" })).status, 403);
    assert.equal((await h.call("GET", "/metrics", { ip: "::1" })).status, 200);
    assert.equal((await h.call("GET", "/metrics", { ip: "127.0.0.1", headers: { "x-forwarded-for": "203.0.113.9" } })).status, 403);
  });

  test("a request that matched no route counts as unmatched, not by its path", async () => {
    await h.call("GET", `/no/such/${Date.now()}`);
    const scrape = new Scrape(await (await h.call("GET", "/metrics", { ip: "127.0.0.1" })).text());
    assert.ok(scrape.value("kws_http_requests_total", { route: "unmatched", status: "404" }) >= 1);
    assert.ok(!scrape.text.includes("/no/such/"));
  });
});

describe("with KWS_METRICS_TOKEN", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ env: { KWS_METRICS_TOKEN: "scrape-secret" } });
  });
  after(() => h.close());

  test("the bearer token is required, from loopback too", async () => {
    const none = await h.call("GET", "/metrics", { ip: "127.0.0.1" });
    assert.equal(none.status, 401);
    assert.equal((await none.json()).error.code, "unauthorized");
    assert.equal((await h.call("GET", "/metrics", { headers: { authorization: "Bearer nope" } })).status, 401);
    assert.equal((await h.call("GET", "/metrics", { headers: { authorization: "Bearer scrape-secret" }, ip: "203.0.113.9" })).status, 200);
  });
});

test("the Grafana dashboard is valid JSON and each of its expressions names only metrics the server exports", async () => {
  const dashboard = JSON.parse(readFileSync(new URL("../../deploy/grafana/kws-dashboard.json", import.meta.url), "utf8")) as {
    panels: { type: string; targets?: { expr: string }[] }[];
  };
  const exported = new Set((await new Metrics().registry.getMetricsAsJSON()).map((m) => m.name));
  const used = new Set<string>();
  const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
  assert.ok(exprs.length >= 15, `${exprs.length} expressions`);
  for (const expr of exprs) {
    const names = expr.match(/\bkws_[a-z0-9_]+/g) ?? [];
    assert.ok(names.length > 0, `${expr} names a KWS metric`);
    for (const name of names) {
      const family = name.replace(/_(bucket|sum|count)$/, "");
      assert.ok(exported.has(name) || exported.has(family), `${name} (in ${expr}) is exported`);
      used.add(exported.has(name) ? name : family);
    }
  }
  assert.deepEqual([...exported].filter((m) => !used.has(m)), [], "every exported metric is on the dashboard");
});

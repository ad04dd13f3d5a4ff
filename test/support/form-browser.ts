import assert from "node:assert/strict";
import type { Harness } from "./harness";

/** Pages through the app the way a browser uses them: cookies kept, forms sent with their CSRF field. */
export class Browser {
  private cookies = new Map<string, string>();
  constructor(
    private readonly h: Harness,
    session = "",
  ) {
    const [k, v] = session.split("=");
    if (k && v) this.cookies.set(k, v);
  }

  private header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  private remember(res: Response) {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const at = pair!.indexOf("=");
      this.cookies.set(pair!.slice(0, at), pair!.slice(at + 1));
    }
  }

  async get(path: string) {
    const res = await this.h.call("GET", path, { headers: { cookie: this.header() } });
    this.remember(res);
    return { status: res.status, html: await res.text(), location: res.headers.get("location") };
  }

  /** Submits a form the way a browser does, with the CSRF field of the page at `from`. */
  async post(from: string, action: string, fields: Record<string, string>) {
    const page = await this.get(from);
    const csrf = page.html.match(/name="_csrf" value="([^"]+)"/)?.[1];
    assert.ok(csrf, `a CSRF field on ${from}`);
    const body = new URLSearchParams({ _csrf: csrf, ...fields }).toString();
    const res = await this.h.call("POST", action, {
      body,
      headers: { cookie: this.header(), "content-type": "application/x-www-form-urlencoded" },
    });
    this.remember(res);
    return { status: res.status, html: await res.text(), location: res.headers.get("location") };
  }
}

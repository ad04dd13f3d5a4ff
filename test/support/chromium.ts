import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve, type ServerType } from "@hono/node-server";
import { chromium, type Browser } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";

/**
 * Debian's Chromium, headless, without the background traffic a test has no use for; inside the
 * network namespace `netns` when given (playwright talks to it over pipes, which cross namespaces).
 */
export async function launchChromium(o: { netns?: string } = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/test-setup.sh (installs Debian's chromium)`);
  const wrapperDir = o.netns ? mkdtempSync(join(tmpdir(), "kws-chromium-")) : undefined;
  const executablePath = wrapperDir ? join(wrapperDir, "chromium") : CHROMIUM;
  if (wrapperDir) writeFileSync(executablePath, `#!/bin/sh\nexec ip netns exec ${o.netns} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  const removeWrapper = () => wrapperDir && rmSync(wrapperDir, { recursive: true, force: true });
  const browser = await chromium
    .launch({
      executablePath,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    })
    .catch((err: unknown) => {
      removeWrapper();
      throw err;
    });
  browser.once("disconnected", removeWrapper);
  return browser;
}

/** An app on a real HTTP server on 127.0.0.1, for a browser to load: its origin and the server. */
export async function serveForBrowser(fetch: (req: Request) => Response | Promise<Response>): Promise<{ origin: string; server: ServerType }> {
  const server = serve({ fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((resolve) => server.once("listening", resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

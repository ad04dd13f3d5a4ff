import type { Context } from "hono";
import { createContext, useContext, type Child } from "hono/jsx";
import { raw } from "hono/html";
import type { AppEnv } from "../env";

const NonceContext = createContext<string | undefined>(undefined);

/** The page with this response's CSP nonce in reach of every <Script> inside it. */
export const withNonce = (c: Context<AppEnv>, page: Child) => <NonceContext.Provider value={c.get("secureHeadersNonce")}>{page}</NonceContext.Provider>;

/** An inline script the Content-Security-Policy lets run: it carries the response's nonce. */
export function Script({ code }: { code: string }) {
  return <script nonce={useContext(NonceContext)}>{raw(code)}</script>;
}

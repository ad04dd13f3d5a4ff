import type { ApiTokenScope } from "../shared/db/schema";
import type { Logger } from "../shared/logger";
import type { Services } from "./services";

export interface AuthUser {
  id: string;
  email: string;
  username: string;
  firstName: string;
  lastName: string;
  verified: boolean;
  isAdmin: boolean;
}

export interface AuthContext {
  user: AuthUser;
  via: "session" | "token";
  /** The API token's id, when the request came with one (the audit log names it). */
  tokenId?: string;
  /** What the credential may do: a session is always "full". */
  scope: ApiTokenScope;
}

/** The one Env type of every Hono app and sub-app. */
export type AppEnv = {
  Bindings: Record<string, unknown>;
  Variables: {
    requestId: string;
    services: Services;
    log: Logger;
    auth?: AuthContext;
  };
};

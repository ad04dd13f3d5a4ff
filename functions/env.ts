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

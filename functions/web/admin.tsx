import type { AuthUser } from "../env";
import { csrfToken } from "./csrf";
import { Layout, Notice } from "./layout";
import { html, type PageContext, signedInPage } from "./pages";

/** The guard of the administrators' pages: signed-out visitors go to sign-in, other people get 403. */
export const adminPage = (page: (c: PageContext, user: AuthUser) => Response | Promise<Response>) =>
  signedInPage((c, user) =>
    user.isAdmin
      ? page(c, user)
      : html(
          c,
          <Layout title="Forbidden" user={user} csrf={csrfToken(c)}>
            <Notice kind="error">Administrators only.</Notice>
          </Layout>,
          403,
        ),
  );

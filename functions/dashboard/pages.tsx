import { createRouter } from "../app";
import type { AuthUser } from "../env";
import { csrfToken } from "../web/csrf";
import { Layout } from "../web/layout";
import { signedInPage } from "../web/pages";

const SERVICES = [
  ["/kws_instances", "Your instance (Linux container with SSH and VS Code)"],
  ["/kws_devices", "WireGuard devices"],
  ["/kws_apps", "Published apps"],
  ["/kws_domains", "Custom domains for your apps"],
  ["/kws_hooks", "Deploy hooks (GitHub, GitLab, Standard Webhooks)"],
  ["/kws_services/postgres/users", "PostgreSQL users"],
  ["/kws_services/postgres/db", "PostgreSQL databases"],
] as const;

function Dashboard({ user, csrf }: { user: AuthUser; csrf: string }) {
  return (
    <Layout title="Dashboard" user={user} csrf={csrf} wide>
      <div class="card">
        <h1 data-testid="welcome">Welcome, {user.firstName}</h1>
        <dl>
          <dt>Name</dt>
          <dd>
            {user.firstName} {user.lastName}
          </dd>
          <dt>Username</dt>
          <dd data-testid="username">{user.username}</dd>
          <dt>E-mail</dt>
          <dd>{user.email}</dd>
        </dl>
        <p class="alt">
          <a href="/kws_account">Account settings</a>: password, e-mail address, sign out everywhere, delete account
        </p>
        <p class="alt">
          <a href="/kws_audit">Audit log</a>: what you and your API tokens changed, when and from where
        </p>
        {user.isAdmin ? (
          <p class="alt">
            <a href="/kws_admin" data-testid="admin-link">
              Administration
            </a>
            : hosts, people, failed jobs
          </p>
        ) : null}
      </div>
      <div class="card">
        <h1>Services</h1>
        <ul>
          {SERVICES.map(([href, label]) => (
            <li>
              <a href={href}>{label}</a>
            </li>
          ))}
        </ul>
      </div>
    </Layout>
  );
}

/** The signed-in home; signed-out visitors go to sign-in. */
export const dashboardPages = createRouter().get(
  "/",
  signedInPage((c, user) => c.html(<Dashboard user={user} csrf={csrfToken(c)} />)),
);

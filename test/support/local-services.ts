/**
 * The machine's own services, which the suite runs on (test/run.ts sets these variables; the
 * defaults serve the benches, which use the test support too).
 */
export const AMQP_URL = process.env.AMQP_URL || "amqp://guest:guest@127.0.0.1:5672";
export const POSTGRES_ADMIN_URL = process.env.DATABASE_URL || "postgres://root@127.0.0.1:5432/postgres";
/** Where the machine's PostgreSQL listens on its unix socket: reachable from any network namespace. */
export const POSTGRES_SOCKET_DIR = "/var/run/postgresql";

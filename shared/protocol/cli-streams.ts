/**
 * The websocket endpoints the `kws` CLI opens on the control plane, once for both sides. Both
 * authenticate with the CLI's API token (`Authorization: Bearer kws_…`).
 */

/**
 * `kws ssh --stdio`: one binary websocket whose messages are the bytes of a TCP connection to port
 * 22 of the caller's own instance, through its host's agent.
 */
export const SSH_PATH = "/api/v1/instance/ssh";

/**
 * `kws tunnel`: the CLI's one connection for a tunnel. Query: `name` (optional: one is made),
 * `access` (owner, authenticated, public), `port` (the local port, shown to people). The control
 * plane opens streams over it (shared/streams/mux.ts, the CLI accepting as an agent does), one per
 * connection of a visitor to `<name>.<apps base>`.
 */
export const TUNNEL_PATH = "/api/v1/tunnels/connect";

/** The secret the CLI makes for one tunnel: reconnecting with it takes the same name back. */
export const TUNNEL_KEY_HEADER = "x-kws-tunnel-key";
/** On the upgrade's answer: the tunnel's name and public URL. */
export const TUNNEL_NAME_HEADER = "x-kws-tunnel-name";
export const TUNNEL_URL_HEADER = "x-kws-tunnel-url";

/** Close code of a CLI that ends its tunnel on purpose: the name is freed at once. */
export const TUNNEL_ENDED = 1000;
/** Close code of the control plane for a tunnel a newer connection with the same key took over. */
export const TUNNEL_REPLACED = 4001;

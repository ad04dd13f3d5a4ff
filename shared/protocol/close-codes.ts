/**
 * The websocket close codes of the agent's connections (control and data), once for both sides:
 * the gateway and the stream hub close with them, the agent acts on them.
 */
export const CloseCodes = {
  /** Another connection of this host took over; the agent must not fight it. */
  replaced: 4001,
  refused: 4006,
  noHello: 4008,
  hostDeleted: 4004,
  heartbeat: 4009,
  queueUnavailable: 4011,
  shutdown: 1001,
} as const;

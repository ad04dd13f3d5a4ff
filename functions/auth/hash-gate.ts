/**
 * At most `perClient` login attempts (limits, password check, refund) at a time per client in this
 * process; a client's further attempts wait their turn. Every login's hash runs on the same small thread pool (4 threads), so
 * without this the failures one client may still make (the per-address limit allows a burst of them)
 * would fill it and every other person's hash would queue behind them.
 */
export class HashGate {
  private readonly clients = new Map<string, { active: number; waiting: (() => void)[] }>();

  constructor(private readonly perClient = 1) {}

  async run<T>(client: string, check: () => Promise<T>): Promise<T> {
    let slot = this.clients.get(client);
    if (!slot) {
      slot = { active: 0, waiting: [] };
      this.clients.set(client, slot);
    }
    if (slot.active < this.perClient) slot.active++;
    else await new Promise<void>((resolve) => slot.waiting.push(resolve));
    try {
      return await check();
    } finally {
      // The slot passes straight to the next in line, or is given up.
      const next = slot.waiting.shift();
      if (next) next();
      else if (--slot.active === 0) this.clients.delete(client);
    }
  }
}

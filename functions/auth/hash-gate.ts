import { Semaphore } from "../../shared/semaphore";

/**
 * At most `perClient` login attempts (limits, password check, refund) at a time per client in this
 * process; a client's further attempts wait their turn. Every login's hash runs on the same small thread pool (4 threads), so
 * without this the failures one client may still make (the per-address limit allows a burst of them)
 * would fill it and every other person's hash would queue behind them.
 */
export class HashGate {
  private readonly clients = new Map<string, Semaphore>();

  constructor(private readonly perClient = 1) {}

  async run<T>(client: string, check: () => Promise<T>): Promise<T> {
    let gate = this.clients.get(client);
    if (!gate) {
      gate = new Semaphore(this.perClient);
      this.clients.set(client, gate);
    }
    try {
      return await gate.use(check);
    } finally {
      // A client with nothing running or waiting is forgotten.
      if (gate.idle) this.clients.delete(client);
    }
  }
}

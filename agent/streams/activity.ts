/**
 * Streams through this agent per instance address: how many are open and when one last was, for
 * the activity reports of idle auto-stop (every IDE websocket, `kws ssh` and kept-alive request
 * of the ingress is one).
 */
export class StreamActivity {
  private readonly byAddress = new Map<string, { open: number; lastAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  opened(address: string): void {
    const entry = this.byAddress.get(address) ?? { open: 0, lastAt: 0 };
    entry.open += 1;
    entry.lastAt = this.now();
    this.byAddress.set(address, entry);
  }

  closed(address: string): void {
    const entry = this.byAddress.get(address);
    if (!entry) return;
    entry.open = Math.max(0, entry.open - 1);
    entry.lastAt = this.now();
  }

  /** Open streams to `address`, and how long ago one was last open (0 while one is; null: none since the agent started). */
  of(address: string): { open: number; idleMs: number | null } {
    const entry = this.byAddress.get(address);
    if (!entry) return { open: 0, idleMs: null };
    return { open: entry.open, idleMs: entry.open > 0 ? 0 : Math.max(0, this.now() - entry.lastAt) };
  }
}

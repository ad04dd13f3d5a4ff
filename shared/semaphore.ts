/** At most `size` holders at once; the others wait in order, and a freed slot passes straight to the next. */
export class Semaphore {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {
    this.free = size;
  }

  /** Nobody holds a slot or waits for one. */
  get idle(): boolean {
    return this.free === this.size && this.waiting.length === 0;
  }

  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free -= 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free += 1;
    }
  }
}

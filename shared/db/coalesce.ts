/**
 * Turns a batch operation into a per-item call, coalescing the calls that arrive together: calls
 * made in the same tick, or while `concurrency` batches are already running, go into the next
 * batch. Under load many jobs share one statement (one parse, one commit); alone, a call still
 * runs at once (group commit, not a timer).
 *
 * `run` answers one result per item, in the items' order. If a batch of several fails, each item
 * is run again alone, so one bad item fails only its own caller, with its own error.
 */
export interface CoalesceOptions {
  /** Batches running at the same time. Default 2. */
  concurrency?: number;
  /** Items in one batch. Default 500. */
  maxBatch?: number;
}

interface Waiting<I, O> {
  item: I;
  resolve(value: O): void;
  reject(error: unknown): void;
}

export function coalesce<I, O>(run: (items: I[]) => Promise<O[]>, options: CoalesceOptions = {}): (item: I) => Promise<O> {
  const concurrency = options.concurrency ?? 2;
  const maxBatch = options.maxBatch ?? 500;
  let queue: Waiting<I, O>[] = [];
  let running = 0;
  let scheduled = false;

  const runAlone = (w: Waiting<I, O>) =>
    run([w.item]).then(
      ([result]) => w.resolve(result as O),
      (error: unknown) => w.reject(error),
    );

  async function runBatch(batch: Waiting<I, O>[]): Promise<void> {
    let results: O[];
    try {
      results = await run(batch.map((w) => w.item));
    } catch (error) {
      if (batch.length === 1) batch[0]!.reject(error);
      else await Promise.all(batch.map(runAlone));
      return;
    }
    if (results.length !== batch.length) {
      const error = new Error(`coalesce: a batch of ${batch.length} answered ${results.length} results`);
      for (const w of batch) w.reject(error);
      return;
    }
    batch.forEach((w, i) => w.resolve(results[i]!));
  }

  function flush(): void {
    scheduled = false;
    while (running < concurrency && queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      running++;
      void runBatch(batch).finally(() => {
        running--;
        flush();
      });
    }
  }

  return (item: I) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      // A microtask, so the calls of one tick (one socket read's deliveries) share the batch.
      if (!scheduled && running < concurrency) {
        scheduled = true;
        queueMicrotask(flush);
      }
    });
}

/** Bounded polling for tests: no fixed sleeps that are either flaky or slow. */

const pollMs = 10;

export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

/**
 * Asserts that something does NOT happen: `predicate` must stay true for `ms`. Keep `ms` short;
 * it is only there to give a wrong delivery the chance to show up.
 */
export async function holdsFor(predicate: () => boolean, ms: number, what = "condition"): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!predicate()) throw new Error(`${what} stopped holding`);
    await sleep(pollMs);
  }
  if (!predicate()) throw new Error(`${what} stopped holding`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

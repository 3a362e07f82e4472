// A fixed number of workers over a list of jobs, results in input order; and
// a gate that lets a fixed number of holders through at a time.

/**
 * Run `fn` over `items` with at most `workers` at a time. `order` (indices
 * into `items`) sets which start first; results stay in input order.
 */
export async function mapPool<T, R>(items: readonly T[], workers: number, fn: (item: T, index: number) => Promise<R>, order?: readonly number[]): Promise<R[]> {
  const results = new Array<R>(items.length);
  const queue = order ?? items.map((_, i) => i);
  if (queue.length !== items.length || new Set(queue).size !== items.length || queue.some((i) => !(i >= 0 && i < items.length)))
    throw new Error('internal: mapPool order must list every index once');
  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      const i = queue[next++] as number;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(workers, items.length)) }, worker));
  return results;
}

/** At most `size` callers inside run() at once; the others wait in arrival order. */
export class Gate {
  private inside = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(readonly size: number) {
    if (!(size >= 1)) throw new Error(`internal: a gate needs room for at least one, not ${size}`);
  }

  /** Run `fn` once there is room, and make room again when it settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inside >= this.size) await new Promise<void>((ok) => this.waiting.push(ok));
    else this.inside++;
    try {
      return await fn();
    } finally {
      // Hand the place straight to the next waiter, so a newcomer cannot take it first.
      const next = this.waiting.shift();
      if (next) next();
      else this.inside--;
    }
  }
}

import { describe, expect, it } from 'vitest';
import { mapPool } from '../../src/pool.js';

describe('mapPool', () => {
  it.each([1, 2, 3, 8, 50])('keeps input order and never runs more than %d at once', async (workers) => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    const results = await mapPool(items, workers, async (item, index) => {
      expect(index).toBe(item);
      running++;
      peak = Math.max(peak, running);
      // Later items finish first, so completion order differs from input order;
      // turns of the event loop, not timers, so the order is the same on any machine.
      for (let t = 1 + ((items.length - item) % 5); t > 0; t--) await new Promise((r) => setImmediate(r));
      seen.push(item);
      running--;
      return item * 10;
    });
    expect(results).toEqual(items.map((i) => i * 10));
    expect(peak).toBe(Math.min(workers, items.length));
    if (workers > 1) expect(seen).not.toEqual(items);
    expect(seen.sort((a, b) => a - b)).toEqual(items);
  });

  it('returns an empty list for no items without calling the function', async () => {
    let calls = 0;
    expect(await mapPool([], 4, async () => ++calls)).toEqual([]);
    expect(calls).toBe(0);
  });

  it('still runs one worker when asked for zero', async () => {
    expect(await mapPool(['a', 'b'], 0, async (s) => s.toUpperCase())).toEqual(['A', 'B']);
  });

  it('rejects when a job rejects', async () => {
    await expect(
      mapPool([1, 2, 3], 2, async (n) => {
        if (n === 2) throw new Error('job 2 failed');
        return n;
      }),
    ).rejects.toThrow('job 2 failed');
  });
});

import { describe, expect, it } from 'vitest';
import { startOrder, itemsAtOnce } from '../../src/cache/refresh.js';
import type { Artifact } from '../../src/catalogue/types.js';
import { Gate, mapPool } from '../../src/pool.js';

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

describe('mapPool with an order', () => {
  it('starts items in the given order and still returns results in input order', async () => {
    const started: string[] = [];
    const results = await mapPool(
      ['a', 'b', 'c', 'd'],
      1,
      async (s) => {
        started.push(s);
        return s.toUpperCase();
      },
      [2, 0, 3, 1],
    );
    expect(started).toEqual(['c', 'a', 'd', 'b']);
    expect(results).toEqual(['A', 'B', 'C', 'D']);
  });

  it.each([[[0, 1]], [[0, 0, 1]], [[0, 3, 1]], [[0, 1, -1]]])('refuses an order that does not list every index once: %j', async (order) => {
    await expect(mapPool(['a', 'b', 'c'], 2, async (s) => s, order)).rejects.toThrow('mapPool order');
  });
});

describe('Gate', () => {
  const tick = () => new Promise((r) => setImmediate(r));

  it.each([1, 2, 5])('lets at most %d through at once, in arrival order, and frees a place when a run fails', async (size) => {
    const gate = new Gate(size);
    let inside = 0;
    let peak = 0;
    const entered: number[] = [];
    const runs = Array.from({ length: 12 }, (_, i) =>
      gate
        .run(async () => {
          entered.push(i);
          inside++;
          peak = Math.max(peak, inside);
          for (let t = 0; t < 1 + (i % 3); t++) await tick();
          inside--;
          if (i % 4 === 0) throw new Error(`run ${i} failed`);
          return i;
        })
        .catch((err: Error) => err.message),
    );
    const results = await Promise.all(runs);
    expect(peak).toBe(size);
    expect(entered).toEqual(entered.slice().sort((a, b) => a - b));
    expect(results).toEqual(Array.from({ length: 12 }, (_, i) => (i % 4 === 0 ? `run ${i} failed` : i)));
    // Every place came back: `size` more runs all get in at once.
    let together = 0;
    await Promise.all(
      Array.from({ length: size }, () =>
        gate.run(async () => {
          together++;
          await tick();
          expect(together).toBe(size);
        }),
      ),
    );
  });

  it('refuses a size below one', () => {
    expect(() => new Gate(0)).toThrow('at least one');
  });
});

describe('the refresh schedule', () => {
  const art = (file: string, size?: number): Artifact => ({ section: 'pool', file, urls: [], sha256: '0'.repeat(64), size }) as unknown as Artifact;

  it('starts the largest items first (unknown sizes before all), equal sizes in catalogue order', () => {
    const items = [art('a', 10), art('b', 300), art('c'), art('d', 300), art('e', 20)];
    expect(startOrder(items, 8)).toEqual([2, 1, 3, 4, 0]);
  });

  it('starts the items already on this machine last, in catalogue order, whatever their size', () => {
    const items = [art('a', 10), art('b', 300), art('c'), art('d', 300), art('e', 20)];
    expect(startOrder(items, 8, [false, true, true, false, false])).toEqual([3, 4, 0, 1, 2]);
    expect(startOrder(items, 8, [true, true, true, true, true])).toEqual([0, 1, 2, 3, 4]);
  });

  it('keeps catalogue order with one worker, and works on one item at a time then', () => {
    expect(startOrder([art('a', 1), art('b', 2)], 1)).toEqual([0, 1]);
    expect(itemsAtOnce(1)).toBe(1);
  });

  it.each([
    [2, 4],
    [8, 16],
  ])('works on twice as many items as there are transfer slots (%d workers: %d items)', (workers, items) => {
    expect(itemsAtOnce(workers)).toBe(items);
  });
});

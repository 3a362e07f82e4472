// Temporary files and lock directories this process holds, so an interrupted
// run (SIGINT, SIGTERM) can remove them before it exits. SIGKILL cannot be
// caught: there, hidden temporary names and lock staleness keep others safe.
import { rmSync } from 'node:fs';

const held = new Set<string>();
const actions = new Set<() => void>();

/** Run `fn` (synchronous, best effort) if the run is interrupted; returns a function that forgets it. */
export function onInterrupt(fn: () => void): () => void {
  actions.add(fn);
  return () => actions.delete(fn);
}

/** Remember a path to remove if the run is interrupted. */
export function track(p: string): void {
  held.add(p);
}

/** Forget a path (it was published or removed). */
export function untrack(p: string): void {
  held.delete(p);
}

/** Remove everything still held; synchronous so it can run in a signal handler. */
export function cleanupNow(): number {
  let n = 0;
  for (const fn of actions) {
    try {
      fn();
      n++;
    } catch {
      // Best effort, as below.
    }
  }
  actions.clear();
  for (const p of held) {
    try {
      rmSync(p, { recursive: true, force: true });
      n++;
    } catch {
      // Best effort: staleness rules cover what we could not remove.
    }
  }
  held.clear();
  return n;
}

// Whether a running build holds a cache entry, and taking its locks before
// removing it. Uses the build's own lock directories (src/fs/lock.ts): a
// lock is live while its heartbeat is fresh and, on this host, its owner runs.
import { lstatIfExists } from '../fs/safe.js';
import { hostIdentity, type Lock, type Owner, processAlive, readOwner, tryAcquireLock } from '../fs/lock.js';

/** "pid 42 on host since …", or a placeholder when the owner record is unreadable. */
export function describeOwner(o: Owner | undefined): string {
  if (!o) return 'another process (owner unknown)';
  const host = String(o.host ?? '').split('/')[0] || 'unknown host';
  return `pid ${o.pid} on ${host}${o.since ? ` since ${o.since}` : ''}`;
}

/**
 * Who holds the lock at `dir`, read-only: undefined when it is free or stale
 * (no heartbeat within `staleMs`, or a dead owner on this host), by the rules
 * the lock module uses to break it.
 */
export async function liveHolder(dir: string, staleMs: number): Promise<string | undefined> {
  // A link in place of a lock is no lock (and never entered).
  const st = await lstatIfExists(dir);
  if (!st?.isDirectory()) return undefined;
  const owner = await readOwner(dir);
  if (owner && owner.host === hostIdentity() && (owner.pid === process.pid || !processAlive(owner.pid))) return undefined;
  if (Date.now() - st.mtimeMs > staleMs) return undefined;
  return describeOwner(owner);
}

/** "held by …" for the first live lock among `dirs`, or undefined when none is held. */
export async function heldBy(dirs: readonly string[], staleMs: number): Promise<string | undefined> {
  for (const d of dirs) {
    const h = await liveHolder(d, staleMs);
    if (h) return `held by ${h}`;
  }
  return undefined;
}

/** Locks taken together, or why they could not be: "held by pid 42 on host …". */
export type Taken = { locks: Lock[]; blocked?: undefined } | { locks?: undefined; blocked: string };

/**
 * Take every lock in `dirs` without waiting (a stale one is broken); when one
 * is held, release those already taken and say who holds it. Never waiting
 * means never deadlocking with a build, whatever order it locks in.
 */
export async function takeLocks(dirs: readonly string[], staleMs: number): Promise<Taken> {
  const taken: Lock[] = [];
  for (const d of dirs) {
    let lock: Lock | undefined;
    try {
      lock = await tryAcquireLock(d, { staleMs });
    } catch (err) {
      await releaseAll(taken);
      return { blocked: `cannot take the lock ${d}: ${(err as Error).message}` };
    }
    if (!lock) {
      const blocked = `held by ${describeOwner(await readOwner(d))}`;
      await releaseAll(taken);
      return { blocked };
    }
    taken.push(lock);
  }
  return { locks: taken };
}

/** Release locks in reverse order. */
export async function releaseAll(locks: readonly Lock[]): Promise<void> {
  for (const l of [...locks].reverse()) await l.release();
}

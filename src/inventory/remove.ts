// Removing one entry the way a build would: under the locks a build takes for
// it, never while a running build holds it, and with its stamp and last-use
// record, so no stamp is left to vouch for a file that is gone.
import { dropUse } from '../layout/last-use.js';
import { type Entry, entryLabel } from './entries.js';
import { removeBelow } from './walk.js';
import { heldBy, releaseAll, takeLocks } from './locks.js';

/** What happened to an entry: removed (or would be, in a dry run), left because a build holds it, or failed. */
export type Outcome = { state: 'removed' } | { state: 'held'; reason: string } | { state: 'failed'; reason: string };

/** One entry in a report. */
export interface EntryReport {
  tier: Entry['tier'];
  group: string;
  provider: string | null;
  kind: Entry['kind'];
  name: string;
  label: string;
  path: string;
  bytes: number;
  /** ISO time of the recorded last use, or null. */
  lastUse: string | null;
  /** ISO mtime, the fallback when there is no record. */
  mtime: string;
}

/** The report form of an entry. */
export function entryReport(e: Entry): EntryReport {
  return {
    tier: e.tier,
    group: e.group,
    provider: e.provider ?? null,
    kind: e.kind,
    name: e.name,
    label: entryLabel(e),
    path: e.path,
    bytes: e.bytes,
    lastUse: e.lastUseMs === undefined ? null : new Date(e.lastUseMs).toISOString(),
    mtime: new Date(e.mtimeMs).toISOString(),
  };
}

/** Remove an entry's files, stamp and last-use record; the caller holds its locks. */
export async function removeEntryFiles(e: Entry): Promise<void> {
  await removeBelow(e.root, e.path);
  for (const c of e.companions) await removeBelow(e.root, c);
  if (e.use) await dropUse(e.use.root, e.use.rel);
  // Directories stay: a build may be about to write into one it just made.
}

/**
 * Remove `e` unless a running build holds it. A dry run only looks (no lock is
 * taken, nothing is written) and answers 'removed' for what would go.
 */
export async function removeEntry(e: Entry, o: { staleMs: number; dryRun: boolean }): Promise<Outcome> {
  const guarded = await heldBy(e.guards, o.staleMs);
  if (guarded) return { state: 'held', reason: guarded };
  if (o.dryRun) {
    const held = await heldBy(e.locks, o.staleMs);
    return held ? { state: 'held', reason: held } : { state: 'removed' };
  }
  const taken = await takeLocks(e.locks, o.staleMs);
  if (!taken.locks) return { state: 'held', reason: taken.blocked };
  try {
    // A build may have started between the first look and the lock.
    const late = await heldBy(e.guards, o.staleMs);
    if (late) return { state: 'held', reason: late };
    await removeEntryFiles(e);
    return { state: 'removed' };
  } catch (err) {
    return { state: 'failed', reason: (err as Error).message };
  } finally {
    await releaseAll(taken.locks);
  }
}

// What a running `cache` works on, held for as long as it runs: one lock per
// section of each local root, `<root>/.g3-locks/.runs/<section>/cache-<pid>-<hex>.lock`,
// made with the lock module. `cache prune`, `clean` and `verify` see a live one
// and leave that section's files alone, as they do for a running build, so
// nothing a refresh has just verified disappears under it. Every run takes its
// own (the name is unique), so concurrent runs never wait for each other.
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { ensureRealDir, isNotFound, type OnLink } from '../fs/safe.js';
import { acquireLock, hostIdentity, type Lock, processAlive, readOwner } from '../fs/lock.js';
import { holdName, holdsDir, isHoldName } from '../layout/paths.js';

/** Take a hold on each of `sections` of the tier at `root` (a resolved root); release them with releaseHolds. */
export async function holdSections(root: string, sections: readonly string[], staleMs: number, onLink?: OnLink): Promise<Lock[]> {
  const held: Lock[] = [];
  try {
    for (const s of [...new Set(sections)]) {
      // A link where the holds folder belongs is removed (and reported), never written through.
      await ensureRealDir(root, holdsDir(root, s), onLink);
      await sweepDeadHolds(root, s);
      const dir = path.join(holdsDir(root, s), holdName(process.pid, randomBytes(4).toString('hex')));
      held.push(await acquireLock(dir, { staleMs, root }));
    }
  } catch (err) {
    await releaseHolds(held);
    throw err;
  }
  return held;
}

/** Release holds taken by holdSections. */
export async function releaseHolds(held: readonly Lock[]): Promise<void> {
  for (const l of held) await l.release();
}

/** Every hold on `section` of the tier at `root` (live or not: the admin commands judge them). */
export async function sectionHolds(root: string, section: string): Promise<string[]> {
  const dir = holdsDir(root, section);
  let names: Dirent[];
  try {
    names = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
  return names.filter((d) => d.isDirectory() && isHoldName(d.name)).map((d) => path.join(dir, d.name));
}

/**
 * Remove the holds on `section` whose owner was a process of this host that no
 * longer runs (a `cache` killed with SIGKILL leaves its holds behind). Holds of
 * other hosts, and holds whose owner record cannot be read, are left to the
 * admin commands, which judge them by their heartbeat. Returns how many went.
 */
export async function sweepDeadHolds(root: string, section: string): Promise<number> {
  let removed = 0;
  for (const dir of await sectionHolds(root, section)) {
    const owner = await readOwner(dir);
    if (!owner || owner.host !== hostIdentity() || processAlive(owner.pid)) continue;
    // readOwner saw a real directory (never a link), so this removes the dead hold itself.
    await rm(dir, { recursive: true, force: true });
    removed++;
  }
  return removed;
}

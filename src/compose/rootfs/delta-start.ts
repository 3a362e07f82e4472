// Finding and unpacking the delta route's start for one build: the stamps of
// the provider's installed snapshots are read, the starts ranked (delta.ts),
// those that would add packages making system users dropped, and the best one
// that verifies unpacked (installed.ts).
import type { LockedPackage } from '../../lock/types.js';
import { installedPaths } from '../../layout/paths.js';
import { type DeltaStart, deltaStarts, type InstalledContents, packageLine, packagesMakingUsers, startsWithout } from './delta.js';
import { deltaCandidates, type InstalledOptions, unpackClosest } from './installed.js';

export interface StartOptions extends Omit<InstalledOptions, 'key'> {
  /** What the lock's own snapshot will hold: its recipe, chroot and epoch must be the start's. */
  contents: InstalledContents;
  /** The lock's image packages. */
  want: LockedPackage[];
  /** The verified package files (the packages to add are read there). */
  pkgDir: string;
}

/**
 * Unpack into `rootfs` the closest installed snapshot the lock can start
 * from; undefined, with the reason as a debug or info line, when there is none.
 */
export async function startFromClosest(o: StartOptions, rootfs: string): Promise<DeltaStart | undefined> {
  const candidates = await deltaCandidates(installedPaths(o.workDir, o.providerId, '').dir);
  const starts = deltaStarts(candidates, o.contents, o.want);
  if (starts.length === 0) {
    o.emit({
      type: 'debug',
      message: `no installed-package snapshot to start from (of ${candidates.length}, none holds only locked packages on this chroot, install recipe and epoch)`,
    });
    return undefined;
  }
  // Each package any start would add is read once (a few at most).
  const adds = [...new Map(starts.flatMap((s) => s.add).map((p) => [packageLine(p), p])).values()];
  const users = await packagesMakingUsers(o.runner, o.pkgDir, adds);
  const usable = startsWithout(starts, new Set(users.map(packageLine)));
  if (usable.length === 0) {
    o.emit({
      type: 'info',
      message: `not starting from an installed-package snapshot: ${users.map((p) => p.name).join(', ')} make(s) system users or groups, whose ids depend on the install order; installing every package`,
    });
    return undefined;
  }
  return unpackClosest(o, rootfs, usable);
}

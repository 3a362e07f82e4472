// The delta route: when no installed-package snapshot matches a lock exactly,
// start from the closest one of the same chroot whose packages are all in the
// lock (same name, version, architecture and SHA256), and let apt install only
// what is missing. A snapshot with a package the lock lacks is never a start:
// removing packages leaves traces (dpkg's memory, configuration files) that a
// build from scratch does not have.
import path from 'node:path';
import type { LockedPackage } from '../../lock/types.js';
import { poolFile } from '../../packages/artifacts.js';
import type { Runner } from '../../docker/runner.js';
import { AGENTS_AT_MOST } from '../../docker/exec-agent.js';
import { mapPool } from '../../pool.js';

/**
 * What an installed snapshot holds, recorded in its stamp: the install recipe,
 * the chroot's key, the SOURCE_DATE_EPOCH of the install (the lock's newest
 * Release date: the initramfs and account dates follow it), and one line per package.
 */
export interface InstalledContents {
  recipe: number;
  chroot: string;
  epoch: number;
  packages: string[];
}

/** An installed snapshot on disk: its key, what its stamp says it holds, and when it was last used (ms). */
export interface DeltaCandidate {
  key: string;
  contents: InstalledContents;
  used: number;
}

/** A start for the delta route: the snapshot's key, the packages it already has, and those apt must add. */
export interface DeltaStart {
  key: string;
  kept: number;
  add: LockedPackage[];
}

/** The line that names one package file in a snapshot's contents. */
export function packageLine(p: Pick<LockedPackage, 'name' | 'version' | 'architecture' | 'sha256'>): string {
  return `${p.name} ${p.version} ${p.architecture} ${p.sha256}`;
}

/**
 * The snapshots a lock of `want` installed as `at` says can start from, best first:
 * same recipe, chroot and epoch, every package of the snapshot in `want`, at least
 * one missing (else it would be the exact snapshot); the largest overlap first,
 * then the most recently used, then by key so the choice is the same every time.
 */
export function deltaStarts(candidates: readonly DeltaCandidate[], at: Omit<InstalledContents, 'packages'>, want: readonly LockedPackage[]): DeltaStart[] {
  const wanted = new Map(want.map((p) => [packageLine(p), p]));
  const starts: (DeltaStart & { used: number })[] = [];
  for (const c of candidates) {
    if (c.contents.recipe !== at.recipe || c.contents.chroot !== at.chroot || c.contents.epoch !== at.epoch) continue;
    const have = new Set(c.contents.packages);
    if (have.size !== c.contents.packages.length || ![...have].every((l) => wanted.has(l))) continue;
    const add = [...wanted].filter(([l]) => !have.has(l)).map(([, p]) => p);
    if (add.length === 0) continue;
    starts.push({ key: c.key, kept: have.size, add: add.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)), used: c.used });
  }
  starts.sort((a, b) => b.kept - a.kept || b.used - a.used || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return starts.map(({ key, kept, add }) => ({ key, kept, add }));
}

/** The starts that add none of the packages in `excluded` (by package line), in the same order. */
export function startsWithout(starts: readonly DeltaStart[], excluded: ReadonlySet<string>): DeltaStart[] {
  return starts.filter((s) => !s.add.some((p) => excluded.has(packageLine(p))));
}

/** Control-script and file patterns of a package that makes system users or groups (their ids depend on install order). */
const MAKES_USERS = /(?<![\w.-])(adduser|addgroup|useradd|groupadd|systemd-sysusers)(?![\w.-])|^(?:[0-9a-f]{32} +)?\.?\/?usr\/lib\/sysusers\.d\/\S+\.conf$/m;

/** Whether the text of a package's control files, or its file list (or md5sums lines), shows it makes system users or groups. */
export function makesUsers(controlAndFiles: string): boolean {
  return MAKES_USERS.test(controlAndFiles);
}

/** A .deb's control files as text, then the list of its data's files when it has no md5sums (`$1`: the .deb). */
const CONTROL_AND_FILES =
  'dpkg-deb --ctrl-tarfile "$1" | tar -xOf - && { dpkg-deb --ctrl-tarfile "$1" | tar -tf - | grep -qxE "(\\./)?md5sums" || dpkg-deb --fsys-tarfile "$1" | tar -tf -; }';

/**
 * The packages among `add` that make system users or groups, read from their
 * files in `pkgDir` (maintainer scripts and sysusers.d entries) where `runner`
 * runs. A user's id is the next free one when its package is configured, so
 * adding such a package to an installed tree can give other ids than a full
 * install would: the delta route never adds them.
 */
export async function packagesMakingUsers(runner: Runner, pkgDir: string, add: readonly LockedPackage[]): Promise<LockedPackage[]> {
  // Read side by side, as many at once as the build container has exec agents; kept in `add`'s order.
  const makes = await mapPool(add, AGENTS_AT_MOST, async (p) => {
    const deb = path.join(pkgDir, poolFile(p));
    // The control files (preinst, postinst, ..., and md5sums, which lists every file but the configuration files),
    // as text; the list of the data's files only for a package without md5sums. Reading the data took 0.5 s for
    // libmagic-mgc (its 10 MB magic database decompressed to be listed), the control files 0.05 s.
    const r = await runner.run(['sh', '-c', CONTROL_AND_FILES, 'sh', deb], { env: { LC_ALL: 'C' } });
    return makesUsers(r.stdout);
  });
  return add.filter((_, i) => makes[i]);
}

// Snapshots of the installed package set, so an unchanged rebuild skips apt:
//   <work_dir>/<provider-id>/chrootbuild/installed/<key>.tar.zst  root filesystem after install
//   <work_dir>/<provider-id>/chrootbuild/installed/<key>.json     key, size and SHA256 of it
// The key is a digest of the chroot's key (base set and tools) and of every
// locked image package (name, version, architecture, SHA256), so any change to
// the lock makes a new one. It is taken after the installed packages were
// checked against the lock and before the template's configuration, so targets
// with the same packages share it. Its size and SHA256 are checked on every
// use; a damaged one is replaced, never unpacked. The few most recently used
// are kept per provider. The stamp also lists the packages the snapshot holds
// (and the chroot it was made on), so a changed lock can start from the
// closest one (delta.ts).
import { createHash } from 'node:crypto';
import { lutimes, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { recordFileUse } from '../../layout/last-use.js';
import { acquireLock } from '../../fs/lock.js';
import type { LockedPackage } from '../../lock/types.js';
import type { Emit } from '../../log/events.js';
import { ensureRealDir, isNotFound, lstatIfExists, readFileNoFollow } from '../../fs/safe.js';
import type { Runner } from '../../docker/runner.js';
import { fetchSnapshot, publishSnapshot, type SnapshotRemote, snapshotProblem, type SnapshotStamp, workspaceLinkNote } from './snapshot.js';
import { installedPaths } from '../../layout/paths.js';
import { type DeltaCandidate, type DeltaStart, type InstalledContents, packageLine } from './delta.js';

/** Bump when the way packages are installed, or what the stamp records, changes. */
export const INSTALL_RECIPE = 6;
/** Installed snapshots kept per provider (most recently used first). */
export const KEEP_INSTALLED = 3;

export type InstalledOutcome = 'reused' | 'fetched' | 'created' | 'rebuilt: snapshot damaged' | `delta from ${string} (+${number} packages)`;

/** Digest of what the installed root filesystem is made of: the chroot and every locked image package. */
export function installedKey(chrootKey: string, packages: LockedPackage[]): string {
  const text = [`install recipe ${INSTALL_RECIPE}`, `chroot ${chrootKey}`, '[image]', ...packages.map(packageLine).sort()].join('\n');
  return createHash('sha256').update(text).digest('hex');
}

/** What the stamp of the installed snapshot of `packages` on chroot `chrootKey`, installed at `epoch`, records it holds. */
export function installedContents(chrootKey: string, epoch: number, packages: LockedPackage[]): InstalledContents {
  return { recipe: INSTALL_RECIPE, chroot: chrootKey, epoch, packages: packages.map(packageLine).sort() };
}

/** tar arguments shared by packing and unpacking: owners by number, extended attributes kept, zstd on all cores (level 1: much of a tree is compressed already). */
const TAR_COMMON = ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--use-compress-program=zstd -T0 -1'];

export interface InstalledOptions {
  runner: Runner;
  workDir: string;
  providerId: string;
  key: string;
  lockStaleMs: number;
  emit: Emit;
  /** The cache registry: asked when there is no snapshot here, offered what is made or reused. */
  remote?: SnapshotRemote;
  /** Packages in the snapshot (for the stamp of a fetched one). */
  packages: number;
  /** What the snapshot holds, recorded in its stamp (also of a fetched one) for the delta route. */
  contents?: InstalledContents;
}

/**
 * Unpack the installed snapshot with `o.key` into `rootfs` when it exists and
 * verifies. 'missing' when there is none; 'damaged' when there was one that
 * failed its check (it is removed, so the caller makes it anew).
 */
export async function unpackInstalled(o: InstalledOptions, rootfs: string): Promise<'reused' | 'fetched' | 'missing' | 'damaged'> {
  const paths = installedPaths(o.workDir, o.providerId, o.key);
  // A link where the snapshot folders belong is removed (never followed) and reported.
  await ensureRealDir(o.workDir, paths.dir, workspaceLinkNote(o.emit));
  const lock = await acquireLock(paths.lockDir, {
    root: o.workDir,
    staleMs: o.lockStaleMs,
    onWait: () => o.emit({ type: 'info', message: `waiting for another build that holds the chroot of ${o.providerId}` }),
  });
  let offer: SnapshotStamp | undefined;
  try {
    const found = await snapshotProblem(paths, o.key);
    if (found.problem === 'damaged' || found.problem === 'key') {
      o.emit({
        type: 'warning',
        message: `installed-package snapshot ${paths.tarball} does not match its stamp (truncated or altered): installing the packages again`,
      });
      await rm(paths.tarball, { force: true });
      await rm(paths.stamp, { force: true });
    }
    const fetched = found.problem ? await fetchSnapshot(o.remote, 'installed', paths, o.key, o.packages, o.workDir, o.contents) : undefined;
    if (found.problem && !fetched) return found.problem === 'missing' ? 'missing' : 'damaged';
    await o.runner.run(['mkdir', '-p', rootfs]);
    await o.runner.run(['tar', ...TAR_COMMON, '-C', rootfs, '-xf', paths.tarball]);
    // The stamp's mtime says when it was last used; pruning keeps the most recent.
    const now = new Date();
    await lutimes(paths.stamp, now, now);
    await recordFileUse(path.join(o.workDir, o.providerId), paths.tarball, now, (m) => o.emit({ type: 'warning', message: m }));
    offer = fetched ? undefined : found.stamp;
    return fetched ? 'fetched' : 'reused';
  } finally {
    await lock.release();
    // Offered to the registry after the lock is given back: an upload does not hold up other builds.
    if (offer) await o.remote?.push('installed', o.key, paths.tarball, offer);
  }
}

/**
 * Pack `rootfs` (just installed and checked against the lock) into the
 * installed snapshot with `o.key`. The tarball is written in `scratchDir` (the
 * build's own directory) without a lock, then published under the provider's
 * lock unless a concurrent build published a good one first; older snapshots
 * beyond KEEP_INSTALLED are removed.
 */
export async function saveInstalled(o: InstalledOptions, rootfs: string, scratchDir: string, packages: number): Promise<SnapshotStamp | undefined> {
  const paths = installedPaths(o.workDir, o.providerId, o.key);
  const tmpTar = path.join(scratchDir, 'installed.tar.zst.tmp');
  await rm(tmpTar, { force: true });
  await o.runner.run(['tar', '--sort=name', ...TAR_COMMON, '-C', rootfs, '-cf', tmpTar, '.']);
  await ensureRealDir(o.workDir, paths.dir, workspaceLinkNote(o.emit));
  const lock = await acquireLock(paths.lockDir, { staleMs: o.lockStaleMs, root: o.workDir });
  let offer: SnapshotStamp | undefined;
  try {
    const found = await snapshotProblem(paths, o.key);
    if (!found.problem) {
      await rm(tmpTar, { force: true });
      return found.stamp;
    }
    const stamp = await publishSnapshot(paths, tmpTar, o.key, packages, o.workDir, o.contents);
    await recordFileUse(path.join(o.workDir, o.providerId), paths.tarball, undefined, (m) => o.emit({ type: 'warning', message: m }));
    await pruneInstalled(paths.dir, KEEP_INSTALLED, o.emit);
    offer = stamp;
    return stamp;
  } finally {
    await lock.release();
    if (offer) await o.remote?.push('installed', o.key, paths.tarball, offer);
  }
}

/** The installed snapshots of `dir` whose stamps record what they hold (read without following links; others are skipped). */
export async function deltaCandidates(dir: string): Promise<DeltaCandidate[]> {
  const names = await readdir(dir).catch((err: unknown) => {
    if (isNotFound(err)) return [] as string[];
    throw err;
  });
  const found: DeltaCandidate[] = [];
  for (const n of names) {
    const key = /^([0-9a-f]{64})\.json$/.exec(n)?.[1];
    if (!key) continue;
    const file = path.join(dir, n);
    const stamp = await readFileNoFollow(file)
      .then((t) => JSON.parse(t) as SnapshotStamp)
      .catch(() => undefined);
    const c = stamp?.contents;
    if (stamp?.key !== key || !c || typeof c.recipe !== 'number' || typeof c.chroot !== 'string' || typeof c.epoch !== 'number' || !Array.isArray(c.packages))
      continue;
    found.push({ key, contents: c, used: (await lstatIfExists(file))?.mtimeMs ?? 0 });
  }
  return found;
}

/**
 * Unpack into `rootfs` the first of `starts` (best first) whose snapshot
 * verifies against its stamp, under the provider's lock; undefined when none
 * does (a damaged one is skipped, not removed: the exact route replaces its own).
 */
export async function unpackClosest(o: Omit<InstalledOptions, 'key'>, rootfs: string, starts: readonly DeltaStart[]): Promise<DeltaStart | undefined> {
  if (starts.length === 0) return undefined;
  const folder = installedPaths(o.workDir, o.providerId, '');
  await ensureRealDir(o.workDir, folder.dir, workspaceLinkNote(o.emit));
  const lock = await acquireLock(folder.lockDir, {
    root: o.workDir,
    staleMs: o.lockStaleMs,
    onWait: () => o.emit({ type: 'info', message: `waiting for another build that holds the chroot of ${o.providerId}` }),
  });
  try {
    for (const s of starts) {
      const paths = installedPaths(o.workDir, o.providerId, s.key);
      const found = await snapshotProblem(paths, s.key);
      if (found.problem) {
        o.emit({ type: 'debug', message: `installed-package snapshot ${s.key.slice(0, 16)} is ${found.problem}: not a start for the delta route` });
        continue;
      }
      await o.runner.run(['mkdir', '-p', rootfs]);
      await o.runner.run(['tar', ...TAR_COMMON, '-C', rootfs, '-xf', paths.tarball]);
      const now = new Date();
      await lutimes(paths.stamp, now, now);
      await recordFileUse(path.join(o.workDir, o.providerId), paths.tarball, now, (m) => o.emit({ type: 'warning', message: m }));
      return s;
    }
    return undefined;
  } finally {
    await lock.release();
  }
}

/** Keep the `keep` most recently used installed snapshots in `dir`; remove the rest and any orphaned file. */
export async function pruneInstalled(dir: string, keep: number, emit?: Emit): Promise<string[]> {
  const names = await readdir(dir).catch((err: unknown) => {
    if (isNotFound(err)) return [] as string[];
    throw err;
  });
  const stamps: { key: string; used: number }[] = [];
  for (const n of names) {
    const m = /^([0-9a-f]{64})\.json$/.exec(n);
    if (!m?.[1]) continue;
    const used = (await lstatIfExists(path.join(dir, n)))?.mtimeMs ?? 0;
    stamps.push({ key: m[1], used });
  }
  stamps.sort((a, b) => b.used - a.used);
  const kept = new Set(stamps.slice(0, keep).map((s) => s.key));
  const removed: string[] = [];
  for (const n of names) {
    const m = /^([0-9a-f]{64})\.(json|tar\.zst)$/.exec(n);
    if (!m?.[1] || kept.has(m[1])) continue;
    await rm(path.join(dir, n), { force: true });
    removed.push(n);
  }
  if (removed.length > 0) emit?.({ type: 'debug', message: `removed ${removed.length} older installed-package snapshot file(s) from ${dir}` });
  return removed;
}

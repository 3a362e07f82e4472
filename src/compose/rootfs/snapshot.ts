// The chroot environment and its snapshot, reused across builds:
//   <work_dir>/<provider-id>/chrootenv/                   the base system
//   <work_dir>/<provider-id>/chrootbuild/chrootenv.tar.gz its snapshot
//   <work_dir>/<provider-id>/chrootbuild/chrootenv.json   key, size and SHA256 of the snapshot
// The key is a digest of the base package set (names, versions, SHA256) and of
// the tools that build it, so a changed base set rebuilds it by itself. The
// snapshot's size and SHA256 are checked on every use: a truncated or altered
// snapshot is rebuilt, never used.
import { cachedImagePackages } from '../../lock/file.js';
import { createHash } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { acquireLock } from '../../fs/lock.js';
import { writeFileAtomic } from '../../fs/atomic.js';
import { hashFile } from '../../fs/hash.js';
import { recordFileUse } from '../../layout/last-use.js';
import { UserError } from '../../errors.js';
import { ensureRealDir, isNotFound, readFileNoFollow, removedLinkMessage, UnexpectedLinkError } from '../../fs/safe.js';
import type { LockedPackage, LockFile } from '../../lock/types.js';
import type { Emit } from '../../log/events.js';
import type { LocalRepo } from './local-repo.js';
import type { Runner } from '../../docker/runner.js';
import { type SnapshotPaths, snapshotPaths } from '../../layout/paths.js';
import type { InstalledContents } from './delta.js';

/** Bump when the way the chroot is made changes. */
const RECIPE = 1;

export interface SnapshotStamp {
  key: string;
  sha256: string;
  size: number;
  packages: number;
  created: string;
  /** Installed snapshots: what they hold (the delta route reads it). */
  contents?: InstalledContents;
}

export interface SnapshotResult {
  paths: SnapshotPaths;
  stamp: SnapshotStamp;
  /** 'reused', 'fetched' (from the cache registry), or why it was (re)built. */
  outcome: 'reused' | 'fetched' | 'created' | 'rebuilt: base set changed' | 'rebuilt: snapshot damaged';
}

export type SnapshotKind = 'chroot' | 'installed';

/**
 * Where snapshots are shared between hosts (the cache registry): `fetch` puts
 * the snapshot with `key` into `dest`, its bytes checked against the digest
 * the registry's manifest names, or says it has none; `push` offers a verified
 * one. Neither throws for the registry's sake: a registry that fails is a warning.
 */
export interface SnapshotRemote {
  fetch(kind: SnapshotKind, key: string, dest: string): Promise<{ sha256: string; size: number } | undefined>;
  push(kind: SnapshotKind, key: string, file: string, stamp: Pick<SnapshotStamp, 'sha256' | 'size'>): Promise<void>;
}

/**
 * Take the snapshot with `key` from `remote` into `paths` (under the caller's
 * lock): fetched into a temporary name, then published with its stamp like a
 * snapshot made here. Undefined when the remote has none.
 */
export async function fetchSnapshot(
  remote: SnapshotRemote | undefined,
  kind: SnapshotKind,
  paths: Pick<SnapshotPaths, 'tarball' | 'stamp'>,
  key: string,
  packages: number,
  workDir: string,
  contents?: InstalledContents,
): Promise<SnapshotStamp | undefined> {
  if (!remote) return undefined;
  const tmp = `${paths.tarball}.tmp`;
  await rm(tmp, { force: true });
  try {
    if (!(await remote.fetch(kind, key, tmp))) return undefined;
    return await publishSnapshot(paths, tmp, key, packages, workDir, contents);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** The image's locked packages named by `names`, in that order; `missing` words the error for the names it lacks. */
export function lockedImagePackages(lock: LockFile, names: readonly string[], missing: (names: string[]) => string): LockedPackage[] {
  const byName = new Map(cachedImagePackages(lock).map((p) => [p.name, p]));
  const absent = names.filter((n) => !byName.has(n));
  if (absent.length > 0) throw new UserError(missing(absent), 'Run `lock --update` to rewrite the lock.');
  return names.map((n) => byName.get(n) as LockedPackage);
}

/** The image's base (chroot) packages, with their locked files. */
export function basePackages(lock: LockFile): LockedPackage[] {
  return lockedImagePackages(lock, lock.image.baseSet, (n) => `the lock names ${n.join(', ')} in the image's base set but not among its packages`);
}

/** The suite mmdebstrap is told about (the first repository's codename; the sources line says the rest). */
export function lockSuite(lock: LockFile): string {
  return lock.repositories[0]?.codename ?? 'stable';
}

/** Digest of what the chroot is made of: base packages and the tools that make it. */
export function snapshotKey(base: LockedPackage[], tools: LockedPackage[], recipe = `recipe ${RECIPE}`): string {
  const line = (p: LockedPackage) => `${p.name} ${p.version} ${p.architecture} ${p.sha256}`;
  const text = [recipe, '[base]', ...base.map(line).sort(), '[tools]', ...tools.map(line).sort()].join('\n');
  return createHash('sha256').update(text).digest('hex');
}

/** Read the stamp and check the snapshot against it: why it cannot be used, or undefined when it can. */
export async function snapshotProblem(
  paths: Pick<SnapshotPaths, 'tarball' | 'stamp'>,
  key: string,
): Promise<{ stamp?: SnapshotStamp; problem?: 'missing' | 'key' | 'damaged' }> {
  // Never through a link (ELOOP): a stamp or snapshot that is one is as good as none.
  const stamp = await readFileNoFollow(paths.stamp)
    .then((t) => JSON.parse(t) as SnapshotStamp)
    .catch((err: unknown) => {
      if (isNotFound(err) || err instanceof SyntaxError || err instanceof UnexpectedLinkError) return undefined;
      throw err;
    });
  if (!stamp) return { problem: 'missing' };
  if (stamp.key !== key) return { stamp, problem: 'key' };
  const actual = await hashFile(paths.tarball, { noFollow: true }).catch((err: NodeJS.ErrnoException) => {
    if (isNotFound(err) || err.code === 'ELOOP') return undefined;
    throw err;
  });
  if (!actual || actual.size !== stamp.size || actual.sha256 !== stamp.sha256) return { stamp, problem: 'damaged' };
  return { stamp };
}

export interface EnsureSnapshotOptions {
  runner: Runner;
  workDir: string;
  providerId: string;
  codename: string;
  base: LockedPackage[];
  tools: LockedPackage[];
  /** Makes the local repository of the base set (only called when building). */
  repo: () => Promise<LocalRepo>;
  lockStaleMs: number;
  emit: Emit;
  /** The cache registry: asked before building, offered what was built or reused. */
  remote?: SnapshotRemote;
}

/**
 * Reuse the provider's snapshot when its key matches and it verifies, else
 * build it; then hand it to `use` (which copies it out) while still holding
 * the provider's lock, so a concurrent build never swaps it mid-copy.
 */
export async function withSnapshot(o: EnsureSnapshotOptions, use: (paths: SnapshotPaths) => Promise<void>): Promise<SnapshotResult> {
  const paths = snapshotPaths(o.workDir, o.providerId);
  const key = snapshotKey(o.base, o.tools);
  // A link where the provider's folders belong is removed (never followed) and reported.
  await ensureRealDir(o.workDir, path.dirname(paths.tarball), workspaceLinkNote(o.emit));
  const lock = await acquireLock(paths.lockDir, {
    root: o.workDir,
    staleMs: o.lockStaleMs,
    onWait: () => o.emit({ type: 'info', message: `waiting for another build that holds the chroot of ${o.providerId}` }),
  });
  let offer: SnapshotStamp | undefined;
  try {
    const found = await snapshotProblem(paths, key);
    let result: SnapshotResult;
    const fetched = found.problem ? await fetchSnapshot(o.remote, 'chroot', paths, key, o.base.length, o.workDir) : undefined;
    if (!found.problem && found.stamp) result = { paths, stamp: found.stamp, outcome: 'reused' };
    else if (fetched) result = { paths, stamp: fetched, outcome: 'fetched' };
    else {
      const outcome = found.problem === 'missing' ? 'created' : found.problem === 'key' ? 'rebuilt: base set changed' : 'rebuilt: snapshot damaged';
      if (found.problem === 'damaged')
        o.emit({ type: 'warning', message: `snapshot ${paths.tarball} does not match its stamp (truncated or altered): rebuilding it` });
      o.emit({ type: 'info', message: `making the chroot of ${o.providerId} from ${o.base.length} cached packages (${outcome})` });
      result = { paths, stamp: await buildSnapshot(o, paths, key), outcome };
    }
    await recordFileUse(path.join(o.workDir, o.providerId), paths.tarball, undefined, (m) => o.emit({ type: 'warning', message: m }));
    await use(paths);
    if (result.outcome !== 'fetched') offer = result.stamp;
    return result;
  } finally {
    await lock.release();
    // Offered to the registry after the lock is given back: an upload does not hold up other builds.
    if (offer) await o.remote?.push('chroot', key, paths.tarball, offer);
  }
}

/**
 * Hash `tmpTar`, move it to `paths.tarball`, then write the stamp that vouches
 * for it (in that order). With `within` (the work directory), the folders on
 * the way must be real ones: the stamp is never written through a link.
 */
export async function publishSnapshot(
  paths: Pick<SnapshotPaths, 'tarball' | 'stamp'>,
  tmpTar: string,
  key: string,
  packages: number,
  within?: string,
  contents?: InstalledContents,
): Promise<SnapshotStamp> {
  const digest = await hashFile(tmpTar, { noFollow: true });
  const stamp: SnapshotStamp = {
    key,
    sha256: digest.sha256,
    size: digest.size,
    packages,
    created: new Date().toISOString(),
    ...(contents ? { contents } : {}),
  };
  await rename(tmpTar, paths.tarball);
  await writeFileAtomic(paths.stamp, `${JSON.stringify(stamp, null, 2)}\n`, true, within);
  return stamp;
}

/** Reports a link removed from the workspace as a warning. */
export function workspaceLinkNote(emit: Emit): (link: string, target: string) => void {
  return (link, target) => emit({ type: 'warning', message: removedLinkMessage(link, target) });
}

/**
 * The gzip of the chroot snapshot where the build runs: pigz (every core) when
 * the composer tools have it, else gzip. The snapshot is packed at level 1: the
 * default template's chroot (130 MB) packs in 1.9 s instead of 4.8 s with
 * gzip, 0.8 s with pigz on two cores, for a file 9 % larger, read once per build.
 */
export function gzipProgram(tools: readonly LockedPackage[]): 'pigz' | 'gzip' {
  return tools.some((t) => t.name === 'pigz') ? 'pigz' : 'gzip';
}

/**
 * dpkg without an fsync of every file while mmdebstrap installs (the tree is
 * scratch until it is packed; a build that stops makes it again), with dpkg's
 * default force options kept. Given in the environment, which dpkg reads and
 * mmdebstrap passes on, because --dpkgopt would leave a file in the tree's
 * /etc/dpkg/dpkg.cfg.d (and its removal that folder's time) behind.
 */
export const MMDEBSTRAP_ENV = { DPKG_FORCE: 'security-mac,downgrade,unsafe-io' };

async function buildSnapshot(o: EnsureSnapshotOptions, paths: SnapshotPaths, key: string): Promise<SnapshotStamp> {
  const repo = await o.repo();
  const tmpDir = `${paths.chrootEnv}.tmp`;
  const tmpTar = `${paths.tarball}.tmp`;
  await rm(tmpDir, { recursive: true, force: true });
  await rm(tmpTar, { force: true });
  const include = o.base.map((p) => p.name).join(',');
  await o.runner.run(['mmdebstrap', '--variant=custom', `--include=${include}`, '--mode=root', o.codename, tmpDir, repo.copySource], {
    env: MMDEBSTRAP_ENV,
    onLine: (line) => o.emit({ type: 'debug', message: `mmdebstrap: ${line}` }),
  });
  // The chroot must not point at a repository that exists only during this build.
  await o.runner.run(['rm', '-f', path.join(tmpDir, 'etc/apt/sources.list')]);
  await o.runner.run([
    'tar',
    '--sort=name',
    '--numeric-owner',
    '--xattrs',
    `--use-compress-program=${gzipProgram(o.tools)} -1`,
    '-C',
    tmpDir,
    '-cf',
    tmpTar,
    '.',
  ]);
  await rm(repo.dir, { recursive: true, force: true });
  const stamp = await publishSnapshot(paths, tmpTar, key, o.base.length, o.workDir);
  await rm(paths.chrootEnv, { recursive: true, force: true });
  await rename(tmpDir, paths.chrootEnv);
  return stamp;
}

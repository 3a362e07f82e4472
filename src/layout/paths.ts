// The on-disk layout of the toolkit's own folders, in one place: every path
// under cache_dir and work_dir, the bookkeeping folders inside each cache tier,
// and every lock name. Other modules ask here instead of joining names
// themselves, so the builds that write a path and the admin commands that list
// and remove it cannot disagree. Pure: nothing here touches the disk.
import path from 'node:path';
import { UserError } from '../errors.js';

// ---- inside every cache tier root (the local and shared g3-cache, the package caches)

/** Verified-file stamps: `<root>/.g3-stamps/<section>/<file>`. */
export const STAMP_DIR = '.g3-stamps';
/** Item locks and per-run holds: `<root>/.g3-locks/...`. */
export const LOCK_DIR = '.g3-locks';
/** Last-use records for `cache prune` and `cache status`: `<root>/.g3-used/<rel>`. */
export const USED_DIR = '.g3-used';
/** Where a running `cache` holds a lock per section it works on: `<root>/.g3-locks/.runs/<section>/`. */
export const RUNS_DIR = '.runs';
/** The file that makes a folder a shared g3-cache; written when an empty folder is first used. */
export const SHARED_MARKER = '.g3-shared-cache';
/** Every lock is a directory whose name ends so. */
export const LOCK_SUFFIX = '.lock';

/** The lock of `section/file` in the tier rooted at `root`. */
export function itemLockPath(root: string, section: string, file: string): string {
  return path.join(root, LOCK_DIR, section, `${file}${LOCK_SUFFIX}`);
}

/** The stamp of `section/file` in the tier rooted at `root`. */
export function stampPath(root: string, section: string, file: string): string {
  return path.join(root, STAMP_DIR, section, file);
}

/** The last-use record of the entry at `rel` below `root`. */
export function lastUsePath(root: string, rel: string): string {
  return path.join(root, USED_DIR, rel);
}

/** The folder of the per-run holds on `section` of the tier at `root`. */
export function holdsDir(root: string, section: string): string {
  return path.join(root, LOCK_DIR, RUNS_DIR, section);
}

/** The name of one run's hold: unique per process and call, so concurrent runs never wait for each other. */
export function holdName(pid: number, nonce: string): string {
  return `cache-${pid}-${nonce}${LOCK_SUFFIX}`;
}

/** Whether `name` (an entry of a holds folder) is a hold, live or not; a lock's scratch companions are not. */
export function isHoldName(name: string): boolean {
  return name.endsWith(LOCK_SUFFIX) && !name.startsWith('.');
}

/** The section of the g3-cache that holds a provider's composer tools (which the Dockerfile installs). */
export function toolsSection(providerId: string): string {
  return `composer-${providerId}`;
}

// ---- under cache_dir

/** The package caches' folder name, under cache_dir and in the shared tier. */
export const PACKAGES_DIR = 'pkgCache';
/** The signed repository metadata store's folder name under cache_dir. */
export const METADATA_DIR = 'repoCache';

/** `<cache_dir>/pkgCache`: the root of the package caches, one section per provider. */
export function packagesRoot(cacheDir: string): string {
  return path.join(cacheDir, PACKAGES_DIR);
}

/** `<cache_dir>/pkgCache/<provider-id>`: a provider's verified package files. */
export function packageDir(cacheDir: string, providerId: string): string {
  return path.join(cacheDir, PACKAGES_DIR, providerId);
}

/** `<cache_dir>/repoCache`: verified repository metadata, kept by SHA256. */
export function metadataDir(cacheDir: string): string {
  return path.join(cacheDir, METADATA_DIR);
}

/** `<shared>/pkgCache`: the shared tier's package cache. */
export function sharedPackagesRoot(sharedRoot: string): string {
  return path.join(sharedRoot, PACKAGES_DIR);
}

// ---- under work_dir

/** The folders a build makes in a provider's workspace (`<work_dir>/<provider-id>/`). */
export const PROVIDER_DIRS: readonly string[] = ['chrootbuild', 'chrootenv', 'imagebuild'];

/** `<work_dir>/<provider-id>`. */
export function providerDir(workDir: string, providerId: string): string {
  return path.join(workDir, providerId);
}

export interface SnapshotPaths {
  /** The unpacked chroot. */
  chrootEnv: string;
  tarball: string;
  stamp: string;
  /** The provider's chroot lock, which the installed snapshots share. */
  lockDir: string;
  /** The local repository the chroot is installed from; only made and removed under the lock. */
  repoDir: string;
}

/** Where a provider's chroot and its snapshot live. */
export function snapshotPaths(workDir: string, providerId: string): SnapshotPaths {
  const root = providerDir(workDir, providerId);
  const build = path.join(root, 'chrootbuild');
  return {
    chrootEnv: path.join(root, 'chrootenv'),
    tarball: path.join(build, 'chrootenv.tar.gz'),
    stamp: path.join(build, 'chrootenv.json'),
    lockDir: path.join(build, LOCK_SUFFIX),
    repoDir: path.join(build, 'repo'),
  };
}

export interface InstalledPaths {
  dir: string;
  tarball: string;
  stamp: string;
  lockDir: string;
}

/** The folder of a provider's installed-package snapshots, relative to its workspace. */
export const INSTALLED_REL = path.join('chrootbuild', 'installed');

/** Where the installed snapshot with `key` lives; it shares the provider's chroot lock. */
export function installedPaths(workDir: string, providerId: string, key: string): InstalledPaths {
  const dir = path.join(providerDir(workDir, providerId), INSTALLED_REL);
  return { dir, tarball: path.join(dir, `${key}.tar.zst`), stamp: path.join(dir, `${key}.json`), lockDir: snapshotPaths(workDir, providerId).lockDir };
}

/** The names of an installed snapshot's files: `<sha256>.tar.zst` and `<sha256>.json`. */
export const INSTALLED_FILE = /^([0-9a-f]{64})\.(json|tar\.zst)$/;

/** `<work_dir>/<provider-id>/baseimage`: where the composer image's base is made when it cannot be pulled. */
export function baseImageDir(workDir: string, providerId: string): string {
  return path.join(providerDir(workDir, providerId), 'baseimage');
}

/** `<work_dir>/<provider-id>/imagebuild`. */
export function imageBuildsDir(workDir: string, providerId: string): string {
  return path.join(providerDir(workDir, providerId), 'imagebuild');
}

const IMAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** `<work_dir>/<provider-id>/imagebuild/<name>/`, for a template's `systemConfig.name`. */
export function imageBuildDir(workDir: string, providerId: string, name: string | undefined): string {
  if (!name || !IMAGE_NAME.test(name) || name.endsWith(LOCK_SUFFIX))
    throw new UserError(`systemConfig.name ${JSON.stringify(name)} cannot name a build directory`, 'Use letters, digits, dot, dash and underscore.');
  return path.join(imageBuildsDir(workDir, providerId), name);
}

/** The lock of an image build: beside its folder, so it can be taken before the folder is emptied. */
export function imageBuildLock(buildDir: string): string {
  return `${buildDir}${LOCK_SUFFIX}`;
}

/** The image name an entry of imagebuild/ is the lock of, or undefined when it is not a build lock. */
export function imageOfBuildLock(entry: string): string | undefined {
  if (!entry.endsWith(LOCK_SUFFIX)) return undefined;
  const name = entry.slice(0, -LOCK_SUFFIX.length);
  return IMAGE_NAME.test(name) ? name : undefined;
}

/**
 * The lock one build holds on its provider from before its cache refresh to its
 * end, `imagebuild/build-<pid>-<nonce>.lock`: unique, so concurrent builds never
 * wait for each other, and seen by the admin commands as a running build.
 */
export function providerHoldPath(workDir: string, providerId: string, pid: number, nonce: string): string {
  return path.join(imageBuildsDir(workDir, providerId), `build-${pid}-${nonce}${LOCK_SUFFIX}`);
}

/** Whether `entry` of imagebuild/ is a build's provider hold. */
export function isProviderHold(entry: string): boolean {
  return /^build-\d+-[0-9a-f]+\.lock$/.test(entry);
}

/** `<work_dir>/.g3-pipeline/<target>`: what one pipeline step leaves for the next; any target name is one safe path element. */
export function pipelineStateDir(workDir: string, target: string): string {
  const safe = encodeURIComponent(target).replace(/^\.+/, (dots) => '%2E'.repeat(dots.length));
  if (safe === '') throw new UserError('an empty target name has no state directory');
  return path.join(workDir, '.g3-pipeline', safe);
}

/** The default run log: `<work_dir>/logs/g3-composer.log`. */
export function defaultLogFile(workDir: string): string {
  return path.join(workDir, 'logs', 'g3-composer.log');
}

/** An overlay's baseline fetched by URL, in its provider's package cache folder: named by its SHA256 and format. */
export function baselineCacheName(sha256: string, format: string): string {
  return `baseline-${sha256.slice(0, 16)}.${format}`;
}

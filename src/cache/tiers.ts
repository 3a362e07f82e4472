// The tiers of the g3-cache, the paths of an item in each, and the checks that
// keep the toolkit inside them: roots are resolved once (a root that is a
// system folder is refused), a shared tier must be recognisable as one (its
// marker), and symbolic links where the layout expects folders are removed.
import { constants, type Dirent } from 'node:fs';
import { access, mkdir, readdir, realpath, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { messageOf, UserError } from '../errors.js';
import { isNotFound, lstatIfExists, type OnLink, openNoFollow, removeLink, removedLinkMessage } from '../fs/safe.js';
import { escapeInline } from '../text/untrusted.js';
import { tempPathFor } from '../fs/atomic.js';
import { unsafeNameReason } from '../layout/names.js';
import { itemLockPath, LOCK_DIR, PACKAGES_DIR, RUNS_DIR, SHARED_MARKER, STAMP_DIR, stampPath, USED_DIR } from '../layout/paths.js';

export interface ItemPaths {
  root: string;
  file: string;
  stamp: string;
  lock: string;
}

/** Where `section/file` lives in the tier rooted at `root`. */
export function itemPaths(root: string, section: string, file: string): ItemPaths {
  return {
    root,
    file: path.join(root, section, file),
    stamp: stampPath(root, section, file),
    lock: itemLockPath(root, section, file),
  };
}

// Folders that hold the system or everyone's files: never a cache root. The
// first set is refused with everything below it, the second only as itself.
const SYSTEM_TREES = ['/proc', '/sys', '/etc', '/usr', '/boot', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
const SYSTEM_FOLDERS = [
  '/',
  '/dev',
  '/dev/shm',
  '/run',
  '/var',
  '/var/lib',
  '/var/cache',
  '/var/tmp',
  '/var/log',
  '/home',
  '/root',
  '/tmp',
  '/srv',
  '/opt',
  '/mnt',
  '/media',
];

/** Why the resolved folder `real` cannot be a cache root, or undefined when it can. */
export function systemFolderReason(real: string): string | undefined {
  const p = path.resolve(real);
  if (SYSTEM_TREES.some((t) => p === t || p.startsWith(`${t}/`))) return `${p} is a system folder`;
  if (SYSTEM_FOLDERS.includes(p)) return `${p} is a system folder`;
  if (p === path.resolve(homedir())) return `${p} is the home folder`;
  return undefined;
}

function resolvedAs(named: string, real: string): string {
  return real === named ? escapeInline(named) : `${escapeInline(named)} (resolved: ${escapeInline(real)})`;
}

/**
 * A local root (the local g3-cache, the package cache) made if missing and
 * resolved to its real path; one that resolves to a system folder is refused
 * (exit 2).
 */
export async function resolveLocalRoot(dir: string, what = 'local cache'): Promise<string> {
  const named = path.resolve(dir);
  await mkdir(named, { recursive: true });
  const real = await realpath(named);
  const why = systemFolderReason(real);
  if (why)
    throw new UserError(`the ${what} ${resolvedAs(named, real)} cannot be used: ${why}`, 'Point it at a folder of its own (G3_LOCAL_CACHE, G3_CACHE_DIR).');
  return real;
}

export interface SharedProbe {
  /** The folder to use (the shared root, or its sub-folder with `sub`); undefined: no shared tier. */
  root?: string;
  readOnly?: boolean;
  /** One line each; the caller prints them as warnings. */
  warnings: string[];
}

const HIDDEN_OK = new Set([STAMP_DIR, LOCK_DIR, USED_DIR]);

async function entriesOf(dir: string): Promise<Dirent[]> {
  return readdir(dir, { withFileTypes: true });
}

/**
 * Whether `dir` (a folder without the marker) holds only what this toolkit
 * puts in a shared cache: bookkeeping folders, our temporary files, and
 * section folders that each have their stamps folder (and `pkgCache`, which
 * must look the same). A cache made before the marker existed passes; a
 * system folder, a home folder or a project does not.
 */
export async function looksLikeSharedCache(dir: string, top = true): Promise<boolean> {
  const entries = await entriesOf(dir);
  const has = (name: string) => entries.some((e) => e.name === name && e.isDirectory());
  for (const e of entries) {
    if (e.name.startsWith('.')) {
      if (HIDDEN_OK.has(e.name) ? !e.isDirectory() : !/\.tmp-/.test(e.name)) return false;
      continue;
    }
    if (!e.isDirectory() || unsafeNameReason(e.name)) return false;
    if (top && e.name === PACKAGES_DIR) {
      if (!(await looksLikeSharedCache(path.join(dir, e.name), false))) return false;
      continue;
    }
    if (!has(STAMP_DIR) || !(await lstatIfExists(path.join(dir, STAMP_DIR, e.name)))?.isDirectory()) return false;
  }
  return true;
}

async function writeMarker(root: string): Promise<void> {
  try {
    const fh = await openNoFollow(path.join(root, SHARED_MARKER), 'wx');
    await fh.writeFile(`g3-composer shared cache: created ${new Date().toISOString()}\n`);
    await fh.close();
  } catch (err) {
    // Another builder wrote it first.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

async function writable(root: string): Promise<{ ok: true } | { ok: false; code: string }> {
  // Permission bits do not stop root, and read-only mounts only show on write: try one.
  const probe = tempPathFor(path.join(root, 'write-probe'));
  try {
    await access(root, constants.W_OK);
    const fh = await openNoFollow(probe, 'wx');
    await fh.close();
    await unlink(probe);
    return { ok: true };
  } catch (err) {
    return { ok: false, code: String((err as NodeJS.ErrnoException).code ?? err) };
  }
}

/**
 * The shared tier to use, and warnings when it is absent, unusable or
 * read-only. The path is resolved first; a system folder is never used. The
 * folder must carry the marker: an empty folder gets it on first (writable)
 * use, a cache made before the marker existed is adopted, anything else gets
 * one warning and is not used. A read-only shared cache is still read from
 * (each use is rehashed, since no stamp can be written there) but never written
 * to. `sub` names the sub-folder to return (the shared package cache), made
 * when missing; `write: false` changes nothing (no probe, no marker).
 */
export async function probeShared(dir: string | undefined, opts: { sub?: string; write?: boolean; registry?: boolean } = {}): Promise<SharedProbe> {
  const others = opts.registry ? 'the local cache, the cache registry and the origin' : 'the local cache and the origin only';
  if (dir === undefined || dir.trim() === '') {
    return { warnings: [`no shared cache configured (SHARED_G3_CACHE_PATH or --shared-cache): using ${others}`] };
  }
  const named = path.resolve(dir);
  const unused = (why: string): SharedProbe => ({ warnings: [`shared cache ${why}: using ${others}`] });
  let real: string;
  try {
    real = await realpath(named);
  } catch (err) {
    if (isNotFound(err)) return unused(`${escapeInline(named)} does not exist`);
    return unused(`${escapeInline(named)} cannot be resolved (${(err as NodeJS.ErrnoException).code ?? messageOf(err)})`);
  }
  const st = await lstatIfExists(real);
  if (!st?.isDirectory()) return unused(`${resolvedAs(named, real)} is not a directory`);
  const system = systemFolderReason(real);
  if (system) return unused(`${resolvedAs(named, real)} is not used: ${system}`);
  const w = opts.write === false ? undefined : await writable(real);
  const readOnly = w !== undefined && !w.ok;
  const warnings: string[] = [];
  let entries: Dirent[];
  try {
    entries = await entriesOf(real);
  } catch (err) {
    return unused(`${resolvedAs(named, real)} cannot be read (${(err as NodeJS.ErrnoException).code ?? messageOf(err)})`);
  }
  const marker = entries.find((e) => e.name === SHARED_MARKER);
  if (marker && !marker.isFile()) return unused(`${resolvedAs(named, real)} is not used: its ${SHARED_MARKER} is not a regular file`);
  if (!marker) {
    const empty = entries.every((e) => /\.tmp-/.test(e.name));
    if (!empty && !(await looksLikeSharedCache(real))) {
      return unused(
        `${resolvedAs(named, real)} is not used: it holds files but no ${SHARED_MARKER}, so it was not made by g3-composer (to share it anyway, create the empty file ${escapeInline(path.join(real, SHARED_MARKER))})`,
      );
    }
    if (w?.ok) await writeMarker(real);
  }
  if (w && !w.ok) warnings.push(`shared cache ${resolvedAs(named, real)} is read-only (${w.code}): reading from it, but nothing is written back`);
  let root = real;
  if (opts.sub) {
    root = path.join(real, opts.sub);
    const sub = await lstatIfExists(root);
    if (sub?.isSymbolicLink() && w?.ok) await removeLink(root, (l, t) => warnings.push(removedLinkMessage(l, t)));
    else if (sub?.isSymbolicLink())
      return { warnings: [...warnings, `shared cache ${escapeInline(root)} is a symbolic link: not followed; using the local cache and the origin only`] };
    else if (sub && !sub.isDirectory())
      return { warnings: [...warnings, `shared cache ${escapeInline(root)} is not a directory: using the local cache and the origin only`] };
    if (w?.ok) await mkdir(root, { recursive: true });
  }
  return { root, readOnly: readOnly || undefined, warnings };
}

/**
 * Check the layout of a tier for the sections about to be used: a symbolic
 * link where a bookkeeping folder (stamps, locks, last-use records, the running
 * holds) or a section folder is expected is removed (the link, never its
 * target) and passed to `onLink`; in a tier we may not change (`remove: false`)
 * it is only reported, and reads treat what lies behind it as missing.
 */
export async function prepareTier(
  root: string,
  sections: readonly string[],
  o: { onLink: OnLink; remove: boolean; onKeep?: (link: string) => void },
): Promise<void> {
  const paths = [STAMP_DIR, LOCK_DIR, USED_DIR, path.join(LOCK_DIR, RUNS_DIR)];
  for (const s of sections) paths.push(s, path.join(STAMP_DIR, s), path.join(LOCK_DIR, s), path.join(USED_DIR, s), path.join(LOCK_DIR, RUNS_DIR, s));
  for (const rel of paths) {
    const p = path.join(root, rel);
    const st = await lstatIfExists(p).catch((err: NodeJS.ErrnoException) => {
      // A parent that is a file: the write that needs it fails and says so.
      if (err.code === 'ENOTDIR') return undefined;
      throw err;
    });
    if (!st?.isSymbolicLink()) continue;
    if (o.remove) await removeLink(p, o.onLink);
    else o.onKeep?.(p);
  }
}

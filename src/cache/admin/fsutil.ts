// File system helpers for cache administration. Nothing here follows a
// symbolic link: listings report links instead of entering them, sizes count
// a link as itself, and removal refuses any path that leaves its root or
// passes through a link on the way.
import type { Dirent } from 'node:fs';
import { lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { InternalError } from '../../errors.js';

/** A path the scan did not enter, and why. */
export interface Skipped {
  path: string;
  reason: string;
}

/** Directory entries with final names (hidden names are bookkeeping or temporary files). */
export async function visibleEntries(dir: string): Promise<Dirent[]> {
  const all = await readdir(dir, { withFileTypes: true }).catch(() => [] as Dirent[]);
  return all.filter((e) => !e.name.startsWith('.')).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Sub-directories of `dir` with final names; symbolic links are reported in `skipped`, not followed. */
export async function subdirs(dir: string, skipped: Skipped[]): Promise<string[]> {
  const out: string[] = [];
  for (const e of await visibleEntries(dir)) {
    if (e.isDirectory()) out.push(e.name);
    else if (e.isSymbolicLink()) skipped.push({ path: path.join(dir, e.name), reason: 'symbolic link: not followed' });
  }
  return out;
}

/** Bytes a file or a whole directory tree takes on disk, counting each link as itself (a sparse image counts its data, not its holes). */
export async function treeBytes(p: string): Promise<number> {
  const st = await lstat(p).catch(() => undefined);
  if (!st) return 0;
  if (!st.isDirectory()) return Math.min(st.size, st.blocks * 512);
  let total = 0;
  for (const e of await readdir(p).catch(() => [] as string[])) total += await treeBytes(path.join(p, e));
  return total;
}

/**
 * Remove `target` (file or tree) below `root`. Refuses a target outside the
 * root or the root itself, and one reached through a symbolic link below the
 * root (a directory swapped for a link after the scan); a link at the target
 * itself is removed as a link. Returns false when it was not there.
 */
export async function removeBelow(root: string, target: string): Promise<boolean> {
  const rel = path.relative(path.resolve(root), path.resolve(target));
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw new InternalError(`refusing to remove ${target}: not below ${root}`);
  const parts = rel.split(path.sep);
  let dir = path.resolve(root);
  for (const part of parts.slice(0, -1)) {
    dir = path.join(dir, part);
    const st = await lstat(dir).catch(() => undefined);
    if (!st) return false;
    if (!st.isDirectory()) throw new Error(`not removed: ${dir} is no longer a plain directory (a symbolic link?)`);
  }
  if (!(await lstat(target).catch(() => undefined))) return false;
  await rm(target, { recursive: true, force: true });
  return true;
}

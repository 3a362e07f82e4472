// File system helpers for cache administration. Nothing here follows a
// symbolic link: listings report links instead of entering them (and, when
// the command may change the cache, remove them as links), sizes count a link
// as itself, and removal refuses any path that leaves its root or passes
// through a link on the way. A folder that cannot be read is reported, never
// taken for an empty one.
import type { Dirent } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { InternalError } from '../errors.js';
import { isNotFound, lstatIfExists, NotADirectoryError, realDirsTo, removeLink, UnexpectedLinkError } from '../fs/safe.js';
import { escapeInline } from '../text/untrusted.js';

/** A path the scan did not enter, and why; `problem`: it could not be read, so the command did not finish its work. */
export interface Skipped {
  path: string;
  reason: string;
  problem?: boolean;
}

/** What a scan reports into, and whether it removes the links it finds (commands that change the cache). */
export interface ScanSink {
  skipped: Skipped[];
  removeLinks?: boolean;
}

/** A sink from a plain list (tests, read-only listings). */
export function sinkOf(s: Skipped[] | ScanSink): ScanSink {
  return Array.isArray(s) ? { skipped: s } : s;
}

/** Where a removed link is reported (sweepOrphanUses, prepareTier). */
export function linkNote(skipped: Skipped[]): (link: string, target: string) => void {
  return (link, target) => skipped.push({ path: link, reason: `symbolic link (to ${escapeInline(target)}): removed, not followed` });
}

/** Report the link at `p`; with removeLinks, remove it (the link itself, never its target). */
export async function noteLink(p: string, s: ScanSink): Promise<void> {
  if (!s.removeLinks) {
    s.skipped.push({ path: p, reason: 'symbolic link: not followed' });
    return;
  }
  const target = await removeLink(p);
  s.skipped.push({ path: p, reason: `symbolic link (to ${escapeInline(target)}): removed, not followed` });
}

/** The entries of `dir`; none when it does not exist; a folder that cannot be read is reported as a problem. */
export async function readEntries(dir: string, s: Skipped[] | ScanSink = []): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isNotFound(err)) return [];
    sinkOf(s).skipped.push({ path: dir, reason: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, problem: true });
    return [];
  }
}

/** Directory entries with final names (hidden names are bookkeeping or temporary files). */
export async function visibleEntries(dir: string, s: Skipped[] | ScanSink = []): Promise<Dirent[]> {
  const all = await readEntries(dir, s);
  return all.filter((e) => !e.name.startsWith('.')).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Sub-directories of `dir` with final names; symbolic links are reported (and removed, with removeLinks), not followed. */
export async function subdirs(dir: string, s: Skipped[] | ScanSink): Promise<string[]> {
  const sink = sinkOf(s);
  const out: string[] = [];
  for (const e of await visibleEntries(dir, sink)) {
    if (e.isDirectory()) out.push(e.name);
    else if (e.isSymbolicLink()) await noteLink(path.join(dir, e.name), sink);
  }
  return out;
}

/**
 * Bytes a file or a whole directory tree takes on disk, counting each link as
 * itself (a sparse image counts its data, not its holes). A folder that cannot
 * be read is reported into `s`.
 */
export async function treeBytes(p: string, s: Skipped[] | ScanSink = []): Promise<number> {
  const st = await lstatIfExists(p);
  if (!st) return 0;
  if (!st.isDirectory()) return Math.min(st.size, st.blocks * 512);
  let total = 0;
  for (const e of await readEntries(p, s)) total += await treeBytes(path.join(p, e.name), s);
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
  let whole: boolean;
  try {
    whole = await realDirsTo(root, target);
  } catch (err) {
    if (isNotFound(err)) return false;
    if (!(err instanceof UnexpectedLinkError || err instanceof NotADirectoryError)) throw err;
    throw new Error(`not removed: ${escapeInline(err.path)} is no longer a plain directory (a symbolic link?)`);
  }
  if (!whole || !(await lstatIfExists(target))) return false;
  await rm(target, { recursive: true, force: true });
  return true;
}

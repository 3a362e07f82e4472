// When each cache entry was last used, for `cache prune` and `cache status`.
// A record is an empty file under `<root>/.g3-used/` whose mtime we set
// explicitly to the time of use: one futimes() call per use on a warm run, and,
// unlike atime, kept on noatime/relatime mounts and over NFS. Concurrent users
// only race to write "now". Records are an optimisation for pruning: a
// read-only tier is never an error, other failures are reported to the caller.
// No record path is ever followed through a symbolic link.
import { readdir, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { messageOf } from '../errors.js';
import type { Dirent } from 'node:fs';
import { ensureRealDir, isNotFound, lstatIfExists, type OnLink, openNoFollow, reachable, removeFileBelow, removeLink } from '../fs/safe.js';
import { escapeInline } from '../text/untrusted.js';
import { mapPool } from '../pool.js';
import { lastUsePath } from './paths.js';

/** Failures that only mean "this tier takes no records" (a read-only mount, another user's cache). */
const READ_ONLY = new Set(['EROFS', 'EACCES', 'EPERM']);

function inside(rel: string): boolean {
  return rel !== '' && !path.isAbsolute(rel) && !rel.split(/[\\/]/).includes('..');
}

/**
 * Record that the entry `rel` under `root` was used at `when` (now by default).
 * Never throws: a read-only tier is silently skipped; any other failure (a
 * link in the record folders, an I/O error) is passed to `onProblem`.
 */
export async function recordUse(root: string, rel: string, when: Date = new Date(), onProblem?: (message: string) => void): Promise<void> {
  if (!inside(rel)) return;
  const file = lastUsePath(root, rel);
  try {
    await ensureRealDir(root, path.dirname(file));
    // O_CREAT without O_TRUNC: concurrent creators cannot clash; O_NOFOLLOW: never a link's target.
    const fh = await openNoFollow(file, 'c');
    try {
      await fh.utimes(when, when);
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (READ_ONLY.has((err as NodeJS.ErrnoException).code ?? '')) return;
    onProblem?.(`cannot record the use of ${escapeInline(rel)} in ${escapeInline(root)}: ${messageOf(err)}`);
  }
}

/** Record a use of the file `file`, which lies under `root`. */
export async function recordFileUse(root: string, file: string, when?: Date, onProblem?: (message: string) => void): Promise<void> {
  await recordUse(root, path.relative(root, file), when, onProblem);
}

/** Record uses of `section/file` items of a cache tier, a few at a time. */
export async function recordItemUses(
  root: string,
  items: readonly { section: string; file: string }[],
  when: Date = new Date(),
  onProblem?: (message: string) => void,
): Promise<void> {
  await mapPool(items, 16, (a) => recordUse(root, path.join(a.section, a.file), when, onProblem));
}

/** When `rel` under `root` was last used (ms since the epoch), or undefined without a record (or one reached through a link). */
export async function readLastUse(root: string, rel: string): Promise<number | undefined> {
  if (!inside(rel)) return undefined;
  const file = lastUsePath(root, rel);
  if (!(await reachable(root, file))) return undefined;
  const st = await lstatIfExists(file);
  return st?.isFile() ? st.mtimeMs : undefined;
}

/** Forget the record of an entry that was removed; a link in the record folders is refused, never followed. */
export async function dropUse(root: string, rel: string): Promise<void> {
  if (!inside(rel)) return;
  await removeFileBelow(root, lastUsePath(root, rel));
}

/**
 * Remove records whose entry no longer exists (removed by a build's own
 * pruning); returns how many. A symbolic link among the records (the record
 * folder itself, a section folder or a record) is removed as a link, never
 * entered, and passed to `onLink`.
 */
export async function sweepOrphanUses(root: string, onLink?: OnLink): Promise<number> {
  let removed = 0;
  const walk = async (rel: string): Promise<void> => {
    const dir = lastUsePath(root, rel);
    const st = await lstatIfExists(dir);
    if (!st) return;
    if (st.isSymbolicLink()) {
      await removeLink(dir, onLink);
      return;
    }
    if (!st.isDirectory()) return;
    let names: Dirent[];
    try {
      names = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    for (const e of names) {
      const child = path.join(rel, e.name);
      if (e.isSymbolicLink()) await removeLink(lastUsePath(root, child), onLink);
      else if (e.isDirectory()) await walk(child);
      else if (e.isFile() && !(await lstatIfExists(path.join(root, child)))) {
        await dropUse(root, child);
        removed++;
      }
    }
    // Empty directories go too; a concurrent recordUse recreates what it needs.
    if (rel !== '') {
      try {
        await rmdir(dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && !isNotFound(err)) throw err;
      }
    }
  };
  await walk('');
  return removed;
}

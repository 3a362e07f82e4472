// When each cache entry was last used, for `cache prune` and `cache status`.
// A record is an empty file under `<root>/.g3-used/` whose mtime we set
// explicitly to the time of use: one utimes() call per use on a warm run, atomic
// by itself, and, unlike atime, kept on noatime/relatime mounts and over NFS.
// Concurrent users only race to write "now". Records are an optimisation for
// pruning: failing to write one (read-only shared cache) is never an error.
import { lstat, mkdir, open, readdir, rm, rmdir, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { mapPool } from './pool.js';

export const USED_DIR = '.g3-used';

/** Where the last-use record of `rel` (a path relative to `root`) lives. */
export function lastUsePath(root: string, rel: string): string {
  return path.join(root, USED_DIR, rel);
}

function inside(rel: string): boolean {
  return rel !== '' && !path.isAbsolute(rel) && !rel.split(/[\\/]/).includes('..');
}

/** Record that the entry `rel` under `root` was used at `when` (now by default); never throws. */
export async function recordUse(root: string, rel: string, when: Date = new Date()): Promise<void> {
  if (!inside(rel)) return;
  const file = lastUsePath(root, rel);
  try {
    await utimes(file, when, when);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return;
    try {
      await mkdir(path.dirname(file), { recursive: true });
      // 'a' creates without truncating: concurrent creators cannot clash.
      await (await open(file, 'a')).close();
      await utimes(file, when, when);
    } catch {
      // Read-only or odd tier: pruning falls back to the entry's mtime.
    }
  }
}

/** Record a use of the file `file`, which lies under `root`. */
export async function recordFileUse(root: string, file: string, when?: Date): Promise<void> {
  await recordUse(root, path.relative(root, file), when);
}

/** Record uses of `section/file` items of a cache tier, a few at a time. */
export async function recordItemUses(root: string, items: readonly { section: string; file: string }[], when: Date = new Date()): Promise<void> {
  await mapPool(items, 16, (a) => recordUse(root, path.join(a.section, a.file), when));
}

/** When `rel` under `root` was last used (ms since the epoch), or undefined without a record. */
export async function readLastUse(root: string, rel: string): Promise<number | undefined> {
  if (!inside(rel)) return undefined;
  const st = await stat(lastUsePath(root, rel)).catch(() => undefined);
  return st?.isFile() ? st.mtimeMs : undefined;
}

/** Forget the record of an entry that was removed. */
export async function dropUse(root: string, rel: string): Promise<void> {
  if (!inside(rel)) return;
  await rm(lastUsePath(root, rel), { force: true }).catch(() => undefined);
}

/** Remove records whose entry no longer exists (removed by a build's own pruning); returns how many. */
export async function sweepOrphanUses(root: string): Promise<number> {
  let removed = 0;
  const walk = async (rel: string): Promise<void> => {
    const dir = lastUsePath(root, rel);
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const child = path.join(rel, e.name);
      if (e.isDirectory()) await walk(child);
      else if (e.isFile() && !(await lstat(path.join(root, child)).catch(() => undefined))) {
        await dropUse(root, child);
        removed++;
      }
    }
    // Empty directories go too; a concurrent recordUse recreates what it needs.
    if (rel !== '') await rmdir(dir).catch(() => undefined);
  };
  await walk('');
  return removed;
}

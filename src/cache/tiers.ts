// The tiers of the g3-cache and the paths of an item in each.
import { constants } from 'node:fs';
import { access, open, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { tempPathFor } from './atomic.js';
import { lockPath } from './lock.js';
import { stampPath } from './stamp.js';

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
    lock: lockPath(root, section, file),
  };
}

/**
 * The shared tier to use, and a warning when it is absent or read-only. A
 * read-only shared cache is still read from (each use is rehashed, since no
 * stamp can be written there) but never written to.
 */
export async function probeShared(dir: string | undefined): Promise<{ root?: string; readOnly?: boolean; warning?: string }> {
  if (dir === undefined || dir.trim() === '') {
    return { warning: 'no shared cache configured (SHARED_G3_CACHE_PATH or --shared-cache): using the local cache and the origin only' };
  }
  const root = path.resolve(dir);
  const st = await stat(root).catch(() => undefined);
  if (!st) return { warning: `shared cache ${root} does not exist: using the local cache and the origin only (create it, or mount it, to share downloads)` };
  if (!st.isDirectory()) return { warning: `shared cache ${root} is not a directory: using the local cache and the origin only` };
  // Permission bits do not stop root, and read-only mounts only show on write: try one.
  const probe = tempPathFor(path.join(root, 'write-probe'));
  try {
    await access(root, constants.W_OK);
    const fh = await open(probe, 'wx');
    await fh.close();
    await unlink(probe);
  } catch (err) {
    return { root, readOnly: true, warning: `shared cache ${root} is read-only (${(err as NodeJS.ErrnoException).code ?? err}): reading from it, but nothing is written back` };
  }
  return { root };
}

// Files appear under their final name only complete and verified: written to a
// hidden temporary name in the same directory, fsynced, then renamed or linked.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { ensureRealDir, isNotFound, lstatIfExists, openNoFollow } from './safe.js';
import { track, untrack } from './cleanup.js';
import { processAlive } from './lock.js';

/** A hidden temporary name beside `finalPath` (final names never start with "."). */
export function tempPathFor(finalPath: string): string {
  const dir = path.dirname(finalPath);
  return path.join(dir, `.${path.basename(finalPath)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** True when `name` is one of our temporary names for `file`. */
export function isTempFor(name: string, file: string): boolean {
  return name.startsWith(`.${file}.tmp-`);
}

/** Flush a file's data to stable storage. */
export async function fsyncFile(file: string): Promise<void> {
  const fh = await openNoFollow(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Flush a directory entry (after rename); ignored where the platform refuses. */
export async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    // Some filesystems (and NFS exports) refuse fsync on directories; rename is still atomic there.
    if (!DIR_SYNC_REFUSED.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
  }
}

const DIR_SYNC_REFUSED = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EPERM', 'EACCES', 'EBADF', 'ENOENT', 'EROFS']);

// Directories with renames not yet flushed; one fsync each at the end of a run
// instead of one per file (each is a journal commit).
const dirtyDirs = new Set<string>();

/**
 * Move a complete, fsynced temporary file to its final name, atomically. The
 * directory entry is flushed by flushDirs(); `durable: false` skips that for
 * files whose loss only costs time (stamps).
 */
export async function publish(tempPath: string, finalPath: string, durable = true): Promise<void> {
  await rename(tempPath, finalPath);
  // rename() between two links of one inode succeeds and does nothing (POSIX):
  // when another builder already linked the same shared file here, our
  // temporary link would stay behind.
  await rm(tempPath, { force: true });
  untrack(tempPath);
  if (durable) dirtyDirs.add(path.dirname(finalPath));
}

/** Flush every directory that received a file since the last call. */
export async function flushDirs(): Promise<void> {
  const dirs = [...dirtyDirs];
  dirtyDirs.clear();
  await Promise.all(dirs.map(fsyncDir));
}

/**
 * Write a small file (lock, state, graph, stamp) atomically: temporary name
 * (created exclusively, never through a link), fsync, rename, directory
 * flushed. `durable: false` skips both flushes, for files whose loss only
 * costs time. With `within`, every folder from that root down to the file must
 * be a real directory (a symbolic link fails with UnexpectedLinkError).
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, durable = true, within?: string): Promise<void> {
  await ensureDirFor(file, within);
  const tmp = tempPathFor(file);
  track(tmp);
  try {
    const fh = await openNoFollow(tmp, 'wx');
    try {
      await fh.writeFile(data);
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await publish(tmp, file, false);
    if (durable) await fsyncDir(path.dirname(file));
  } catch (err) {
    await removeAfterFailure(tmp);
    throw err;
  } finally {
    untrack(tmp);
  }
}

/**
 * Ensure the directory for `file` exists. With `within` (a root the file lies
 * below), every folder from the root down must be a real directory: a link on
 * the way fails with UnexpectedLinkError instead of being written through.
 */
export async function ensureDirFor(file: string, within?: string): Promise<void> {
  if (within === undefined) await mkdir(path.dirname(file), { recursive: true });
  else await ensureRealDir(within, path.dirname(file));
}

/**
 * Place `source` at `dest` by hardlink when both are on one filesystem, else by
 * copy; either way through a temporary name, so `dest` is never partial.
 * A link shares the (already verified) inode; a copy is checked by
 * `verifyCopy` before it is published. Returns how it was placed.
 */
export async function placeCopy(source: string, dest: string, verifyCopy: (tmp: string) => Promise<void>, within?: string): Promise<'link' | 'copy'> {
  await ensureDirFor(dest, within);
  const tmp = tempPathFor(dest);
  track(tmp);
  try {
    let how: 'link' | 'copy' = 'link';
    try {
      await link(source, tmp);
    } catch {
      how = 'copy';
      // COPYFILE_FICLONE asks for a reflink where the filesystem can, and copies otherwise.
      // COPYFILE_EXCL: never write through something planted at the temporary name.
      await copyFile(source, tmp, constants.COPYFILE_FICLONE | constants.COPYFILE_EXCL);
      await fsyncFile(tmp);
      // A copy is new bytes: check them before they get a final name.
      await verifyCopy(tmp);
    }
    await publish(tmp, dest);
    return how;
  } catch (err) {
    await removeAfterFailure(tmp);
    untrack(tmp);
    throw err;
  }
}

/** Remove a file (a link as itself, never its target), ignoring only "not there"; other failures are thrown. */
export async function removeQuietly(file: string): Promise<void> {
  await rm(file, { force: true });
}

// On the way out of a failed write the first error is the one worth reporting;
// a temporary file that cannot be removed now is hidden, and swept by a later run.
async function removeAfterFailure(tmp: string): Promise<void> {
  try {
    await rm(tmp, { force: true });
  } catch {
    // See above: the caller rethrows the original failure.
  }
}

/** Remove leftover temporary files of `file` (from killed runs): those of a process that no longer runs, and any older than `olderThanMs`. */
export async function sweepTemps(dir: string, file: string, olderThanMs: number): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isNotFound(err)) return 0;
    throw err;
  }
  let removed = 0;
  const now = Date.now();
  for (const name of names) {
    if (!isTempFor(name, file)) continue;
    const p = path.join(dir, name);
    // lstat: a link with a temporary name is removed as itself; its target's age does not count.
    const st = await lstatIfExists(p);
    // A temporary file of a process that no longer runs (its pid is in the name; this folder is this host's) goes at
    // once; one of a live process (or a pid reused since) only when it is old.
    const pid = Number(/\.tmp-(\d+)-/.exec(name.slice(file.length + 1))?.[1]);
    const orphaned = Number.isInteger(pid) && pid > 0 && pid !== process.pid && !processAlive(pid);
    if (st && (orphaned || now - st.mtimeMs > olderThanMs)) {
      await removeQuietly(p);
      removed++;
    }
  }
  return removed;
}

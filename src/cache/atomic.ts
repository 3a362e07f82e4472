// Files appear under their final name only complete and verified: written to a
// hidden temporary name in the same directory, fsynced, then renamed or linked.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { track, untrack } from './cleanup.js';

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
  const fh = await open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Flush a directory entry (after rename); ignored where the platform refuses. */
export async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some filesystems (and NFS exports) refuse fsync on directories; rename is still atomic there.
  }
}

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
 * Write a small file (lock, state, graph, stamp) atomically: temporary name,
 * fsync, rename, directory flushed. `durable: false` skips both flushes, for
 * files whose loss only costs time.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, durable = true): Promise<void> {
  await ensureDirFor(file);
  const tmp = tempPathFor(file);
  track(tmp);
  try {
    await writeFile(tmp, data, { mode: 0o644 });
    if (durable) await fsyncFile(tmp);
    await publish(tmp, file, false);
    if (durable) await fsyncDir(path.dirname(file));
  } catch (err) {
    await removeQuietly(tmp);
    throw err;
  } finally {
    untrack(tmp);
  }
}

/** Ensure the directory for `file` exists. */
export async function ensureDirFor(file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
}

/**
 * Place `source` at `dest` by hardlink when both are on one filesystem, else by
 * copy; either way through a temporary name, so `dest` is never partial.
 * A link shares the (already verified) inode; a copy is checked by
 * `verifyCopy` before it is published. Returns how it was placed.
 */
export async function placeCopy(source: string, dest: string, verifyCopy: (tmp: string) => Promise<void>): Promise<'link' | 'copy'> {
  await ensureDirFor(dest);
  const tmp = tempPathFor(dest);
  track(tmp);
  try {
    let how: 'link' | 'copy' = 'link';
    try {
      await link(source, tmp);
    } catch {
      how = 'copy';
      // COPYFILE_FICLONE asks for a reflink where the filesystem can, and copies otherwise.
      await copyFile(source, tmp, constants.COPYFILE_FICLONE);
      await fsyncFile(tmp);
      // A copy is new bytes: check them before they get a final name.
      await verifyCopy(tmp);
    }
    await publish(tmp, dest);
    return how;
  } catch (err) {
    await removeQuietly(tmp);
    untrack(tmp);
    throw err;
  }
}

/** Remove a file, ignoring "not there". */
export async function removeQuietly(file: string): Promise<void> {
  await rm(file, { force: true }).catch(() => undefined);
}

/** Remove leftover temporary files of `file` older than `olderThanMs` (from killed runs). */
export async function sweepTemps(dir: string, file: string, olderThanMs: number): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  const now = Date.now();
  for (const name of names) {
    if (!isTempFor(name, file)) continue;
    const p = path.join(dir, name);
    const st = await stat(p).catch(() => undefined);
    if (st && now - st.mtimeMs > olderThanMs) {
      await removeQuietly(p);
      removed++;
    }
  }
  return removed;
}

// Hard links of the baseline's root filesystem. fuse2fs gives every path an
// inode number of its own, so tar copies a hard-linked file once per name; the
// link counts it reports are right, though, so the names of multiply linked
// files are listed while the filesystem is mounted, their real inode numbers
// read with debugfs from the image (per directory), and every name of one inode
// made a hard link of the first again.
import path from 'node:path';
import { ExtReader } from '../../diskimage/read.js';
import type { Runner } from '../../docker/runner.js';

/** Paths (relative to the root) that `find -printf '%P\0'` listed, without empty or escaping ones. */
export function linkedPaths(findOutput: string): string[] {
  return findOutput.split('\0').filter((p) => p !== '' && !p.split('/').includes('..') && !p.startsWith('/'));
}

/** Groups of two or more paths that are one inode, each sorted, the groups in order of their first path. */
export function inodeGroups(inodes: ReadonlyMap<string, number>): string[][] {
  const by = new Map<number, string[]>();
  for (const [p, ino] of inodes) by.set(ino, [...(by.get(ino) ?? []), p]);
  return [...by.values()]
    .filter((g) => g.length > 1)
    .map((g) => g.sort())
    .sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
}

/** Each listed path's inode number in the root filesystem at `offset` of `raw` (read on this machine). */
export async function inodesOf(raw: string, offset: number, paths: string[]): Promise<Map<string, number>> {
  const reader = new ExtReader(raw, offset);
  const dirs = new Map<string, string[]>();
  for (const p of paths) dirs.set(path.posix.dirname(p), [...(dirs.get(path.posix.dirname(p)) ?? []), p]);
  const out = new Map<string, number>();
  for (const [dir, inDir] of dirs) {
    const names = await reader.fileInodes(dir === '.' ? '/' : `/${dir}`);
    for (const p of inDir) {
      const ino = names.get(path.posix.basename(p));
      if (ino !== undefined) out.set(p, ino);
    }
  }
  return out;
}

/** Make the copies tar wrote of one inode hard links of the first path again; returns how many names were linked. */
export async function relink(runner: Runner, rootfs: string, groups: string[][]): Promise<number> {
  let linked = 0;
  for (const [first, ...rest] of groups) {
    for (const other of rest) {
      await runner.run(['ln', '-f', '--', path.join(rootfs, first as string), path.join(rootfs, other)]);
      linked++;
    }
  }
  return linked;
}

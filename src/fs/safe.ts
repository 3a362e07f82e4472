// File system primitives that never follow a symbolic link the toolkit did not
// make, and that tell "not there" apart from every other failure (permission,
// I/O): only "not there" may be ignored; the rest must be reported.
import { constants, type Stats } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, readlink, realpath, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { escapeInline } from '../text/untrusted.js';

/** True for the error of a path that does not exist. */
export function isNotFound(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === 'ENOENT';
}

/** The value of `p`, or undefined when it failed because a path does not exist; any other failure is thrown. */
export async function ignoreNotFound<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** lstat, or undefined when nothing is there (a link is reported as a link, never followed). */
export function lstatIfExists(p: string): Promise<Stats | undefined> {
  return ignoreNotFound(lstat(p));
}

/** A symbolic link found where a folder or file was expected: the command stops (exit 2) naming it. */
export class UnexpectedLinkError extends UserError {
  override name = 'UnexpectedLinkError';
  constructor(
    readonly path: string,
    readonly expected: 'directory' | 'file',
  ) {
    super(
      `${escapeInline(path)} is a symbolic link where a ${expected} was expected; refusing to follow it`,
      'Remove the link (the toolkit never follows links inside its folders) and run again.',
    );
  }
}

/** Something other than a directory (and not a link) where a directory was expected. */
export class NotADirectoryError extends Error {
  override name = 'NotADirectoryError';
  readonly code = 'ENOTDIR';
  constructor(readonly path: string) {
    super(`${escapeInline(path)} is not a directory`);
  }
}

/** Told about a symbolic link that was removed (the link itself; its target is untouched). */
export type OnLink = (link: string, target: string) => void;

/** The text of a report about a removed link: where it was and where it pointed (escaped). */
export function removedLinkMessage(link: string, target: string): string {
  return `removed the symbolic link ${escapeInline(link)} (to ${escapeInline(target)}): links are never followed here`;
}

/** Remove the symbolic link at `p` (never its target) and report it; returns what it pointed to. */
export async function removeLink(p: string, onLink?: OnLink): Promise<string> {
  const target = await readlink(p).catch(() => '?');
  await ignoreNotFound(unlink(p));
  onLink?.(p, target);
  return target;
}

// Real paths of the roots seen so far: a root is resolved once per process (every write below it checks it again
// only with one lstat), which spares a realpath (a readlink per component) on every file the cache writes.
const realRoots = new Map<string, string>();

/** The real path of `root`, a directory (made with its parents when `make`). */
async function realRootOf(root: string, make: boolean): Promise<string> {
  const key = path.resolve(root);
  const known = realRoots.get(key);
  if (known) {
    if ((await lstatIfExists(known))?.isDirectory()) return known;
    realRoots.delete(key);
  }
  if (make) await mkdir(root, { recursive: true });
  const real = await realpath(root);
  if (!(await lstat(real)).isDirectory()) throw new NotADirectoryError(root);
  realRoots.set(key, real);
  return real;
}

/**
 * The folders from `root` (exclusive) down to `dir` (inclusive), below the
 * real path of `root` (the user named the root: a link there is theirs and is
 * resolved; below it nothing is followed). Throws when `dir` is not below `root`.
 */
async function foldersBelow(root: string, dir: string, make = false): Promise<string[]> {
  const rel = path.relative(path.resolve(root), path.resolve(dir));
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`${dir} is not below ${root}`);
  let at = await realRootOf(root, make);
  const out: string[] = [];
  for (const part of rel === '' ? [] : rel.split(path.sep)) {
    at = path.join(at, part);
    out.push(at);
  }
  return out;
}

/**
 * Make `dir` and every folder between `root` and it real directories, creating
 * what is missing (`root` itself too, with its parents: the user named it, and
 * a link at it is resolved). A
 * symbolic link on the way is never followed: with `onLink` it is removed (the
 * link, never its target), reported and replaced by a directory; without, the
 * call fails with UnexpectedLinkError. A file there fails with NotADirectoryError.
 */
export async function ensureRealDir(root: string, dir: string, onLink?: OnLink): Promise<void> {
  for (const d of await foldersBelow(root, dir, true)) {
    for (let attempt = 0; ; attempt++) {
      const st = await lstatIfExists(d);
      if (st?.isDirectory()) break;
      if (st?.isSymbolicLink() && onLink && attempt < 3) await removeLink(d, onLink);
      else if (st?.isSymbolicLink()) throw new UnexpectedLinkError(d, 'directory');
      else if (st) throw new NotADirectoryError(d);
      try {
        await mkdir(d);
      } catch (err) {
        // Made meanwhile by another process: look again.
        if ((err as { code?: string }).code !== 'EEXIST' || attempt >= 3) throw err;
      }
    }
  }
}

/**
 * Check, changing nothing, that every folder from `root` down to the parent of
 * `p` is a real directory. False when one is missing; a link on the way fails
 * with UnexpectedLinkError, a file with NotADirectoryError.
 */
export async function realDirsTo(root: string, p: string): Promise<boolean> {
  for (const d of await foldersBelow(root, path.dirname(p))) {
    const st = await lstatIfExists(d);
    if (!st) return false;
    if (st.isSymbolicLink()) throw new UnexpectedLinkError(d, 'directory');
    if (!st.isDirectory()) throw new NotADirectoryError(d);
  }
  return true;
}

/**
 * Whether `p` can be reached from `root` through real directories only: false
 * when a folder on the way is missing, a link or a file (what lies behind a
 * link is treated as not there); other failures (I/O, permission) are thrown.
 */
export async function reachable(root: string, p: string): Promise<boolean> {
  try {
    return await realDirsTo(root, p);
  } catch (err) {
    if (err instanceof UnexpectedLinkError || err instanceof NotADirectoryError || isNotFound(err)) return false;
    throw err;
  }
}

/**
 * Remove the file (or link, as itself) at `p` below `root` when every folder on
 * the way is a real directory; "not there" is not an error, a link on the way is.
 */
export async function removeFileBelow(root: string, p: string): Promise<void> {
  if (!(await ignoreNotFound(realDirsTo(root, p)))) return;
  await rm(p, { force: true });
}

/** The real path of `dir`, made (with its parents) when missing: a root the user named, resolved once. */
export async function realRoot(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  return realpath(dir);
}

const FLAGS = {
  /** Create or truncate for writing. */
  w: constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC,
  /** Create or append. */
  a: constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND,
  /** Create; fail when anything (also a link) is there. */
  wx: constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
  /** Read. */
  r: constants.O_RDONLY,
  /** Create without truncating, for writing (a last-use record). */
  c: constants.O_WRONLY | constants.O_CREAT,
} as const;

/** The numeric open flags for `mode` with O_NOFOLLOW (for the synchronous fs API). */
export function noFollowFlags(mode: keyof typeof FLAGS): number {
  return FLAGS[mode] | constants.O_NOFOLLOW;
}

/**
 * Open `file` without following a symbolic link at its final component: a
 * link there fails with UnexpectedLinkError instead of writing through it.
 */
export async function openNoFollow(file: string, mode: keyof typeof FLAGS, perm = 0o644): Promise<FileHandle> {
  try {
    return await open(file, noFollowFlags(mode), perm);
  } catch (err) {
    if ((err as { code?: string }).code === 'ELOOP') throw new UnexpectedLinkError(file, 'file');
    throw err;
  }
}

/** Write `data` to `file` (created or truncated) without following a link at it. */
export async function writeFileNoFollow(file: string, data: string | Uint8Array, perm = 0o644): Promise<void> {
  const fh = await openNoFollow(file, 'w', perm);
  try {
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
}

/** Read `file` as UTF-8 without following a link at it. */
export async function readFileNoFollow(file: string): Promise<string> {
  const fh = await openNoFollow(file, 'r');
  try {
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

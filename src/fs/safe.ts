// File system primitives that never follow a symbolic link the toolkit did not
// make, and that tell "not there" apart from every other failure (permission,
// I/O): only "not there" may be ignored; the rest must be reported.
import { constants, type Stats } from 'node:fs';
import { type FileHandle, lstat, open } from 'node:fs/promises';

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

/** A symbolic link (or other non-directory) found where a folder or file was expected. */
export class UnexpectedLinkError extends Error {
  override name = 'UnexpectedLinkError';
  constructor(
    readonly path: string,
    readonly expected: 'directory' | 'file',
  ) {
    super(`${path} is a symbolic link where a ${expected} was expected; refusing to follow it`);
  }
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

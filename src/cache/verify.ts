// Verification of one cached file against its pinned size and SHA256.
import { lstat } from 'node:fs/promises';
import { reachable, UnexpectedLinkError } from '../fs/safe.js';
import { hashFile } from '../fs/hash.js';
import { type FileIdentity, identityOf, stampMatches, writeStamp } from './stamp.js';

export interface Expectation {
  sha256: string;
  size?: number;
}

export type Verdict = { state: 'ok'; how: 'stamp' | 'hash'; size: number } | { state: 'missing' } | { state: 'bad'; reason: string };

export interface VerifyOptions {
  /** Ignore stamps and rehash. */
  force?: boolean;
  /** Record a stamp after a successful hash (off for read-only checks). */
  stamp?: boolean;
}

/** Where a file of a tier lives: the tier root, the file and its stamp (see tiers.ts). */
export interface TierFile {
  root: string;
  file: string;
  stamp: string;
}

/**
 * Check `p.file` against `expect`, using (and refreshing) its stamp. A file
 * reached through a symbolic link below the tier root counts as missing: it is
 * never read, judged or removed through the link.
 */
export async function verifyFile(p: TierFile, expect: Expectation, opts: VerifyOptions = {}): Promise<Verdict> {
  const { file, stamp: stampFile } = p;
  if (!(await reachable(p.root, file))) return { state: 'missing' };
  let st: Awaited<ReturnType<typeof lstat>> & { mtimeNs: bigint; ino: bigint; dev: bigint; size: bigint };
  try {
    st = (await lstat(file, { bigint: true })) as typeof st;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    return { state: 'bad', reason: `cannot read: ${(err as NodeJS.ErrnoException).code}` };
  }
  if (!st.isFile()) return { state: 'bad', reason: 'not a regular file' };
  const id = identityOf(st);
  if (expect.size !== undefined && id.size !== expect.size) {
    return { state: 'bad', reason: `size ${id.size} bytes, expected ${expect.size}` };
  }
  if (!opts.force && (await stampMatches(stampFile, id, expect.sha256))) return { state: 'ok', how: 'stamp', size: id.size };
  const digest = await hashFile(file, { noFollow: true });
  if (digest.sha256 !== expect.sha256) {
    return { state: 'bad', reason: `sha256 ${digest.sha256.slice(0, 16)}…, expected ${expect.sha256.slice(0, 16)}…` };
  }
  if (opts.stamp !== false) await stampIfUnchanged(p.root, file, stampFile, id, expect.sha256);
  return { state: 'ok', how: 'hash', size: id.size };
}

// Only stamp when the file did not change while we hashed it.
async function stampIfUnchanged(root: string, file: string, stampFile: string, before: FileIdentity, sha256: string): Promise<void> {
  try {
    const after = identityOf((await lstat(file, { bigint: true })) as never);
    if (after.size === before.size && after.mtimeNs === before.mtimeNs && after.ino === before.ino) {
      await writeStamp(root, stampFile, after, sha256);
    }
  } catch (err) {
    // A stamp is an optimisation; failing to write one only costs a rehash next
    // time. A link in the stamp folders is not such a failure: it is reported.
    if (err instanceof UnexpectedLinkError) throw err;
  }
}

// Verified-file stamps, as BitBake's .done files: once a file's SHA256 has been
// checked, a stamp keyed on its size, mtime, inode and device lets later runs
// skip the rehash while the file is unchanged. `--verify` ignores stamps.
import { readFileNoFollow, removeFileBelow } from '../fs/safe.js';
import { writeFileAtomic } from '../fs/atomic.js';

export interface FileIdentity {
  size: number;
  mtimeNs: string;
  ino: string;
  dev: string;
}

interface Stamp extends FileIdentity {
  sha256: string;
}

/** The identity of a file as a stamp records it (from a bigint stat). */
export function identityOf(st: { size: bigint; mtimeNs: bigint; ino: bigint; dev: bigint }): FileIdentity {
  return { size: Number(st.size), mtimeNs: String(st.mtimeNs), ino: String(st.ino), dev: String(st.dev) };
}

/** True when a stamp says this exact file was verified to have `sha256`. */
export async function stampMatches(stampFile: string, id: FileIdentity, sha256: string): Promise<boolean> {
  let stamp: Stamp;
  try {
    stamp = JSON.parse(await readFileNoFollow(stampFile)) as Stamp;
  } catch {
    // Missing, unreadable, a link or not JSON: the file is simply rehashed.
    return false;
  }
  return stamp.sha256 === sha256 && stamp.size === id.size && stamp.mtimeNs === id.mtimeNs && stamp.ino === id.ino && stamp.dev === id.dev;
}

/** Record that the file with identity `id` has been verified; never through a link below the tier root `root`. */
export async function writeStamp(root: string, stampFile: string, id: FileIdentity, sha256: string): Promise<void> {
  await writeFileAtomic(stampFile, JSON.stringify({ ...id, sha256 }), false, root);
}

/** Forget a stamp (its file was removed or replaced); a link on the way below `root` is refused. */
export async function dropStamp(root: string, stampFile: string): Promise<void> {
  await removeFileBelow(root, stampFile);
}

// A directory in memory for a short-lived scratch tree (mmdebstrap's
// temporary chroot of the base image): /dev/shm when it is a tmpfs with room,
// mounted without nodev or noexec (a chroot there runs its programs and opens
// its device nodes), and the machine has memory to spare; else none, and the
// caller keeps its default (TMPDIR, on disk). In a default container /dev/shm
// is a 64 MB tmpfs: too small, so not taken.
import { readFile, statfs } from 'node:fs/promises';
import { freemem } from 'node:os';

/** statfs's f_type of a tmpfs. */
const TMPFS_MAGIC = 0x01021994;

export interface MemoryDirFacts {
  /** statfs's f_type. */
  type: number;
  /** Bytes free for an unprivileged user there. */
  freeBytes: number;
  /** Its mount options, or undefined when it is not a mount point. */
  options: string[] | undefined;
  /** Free memory of the machine. */
  freeMemory: number;
}

/** Whether a directory with these facts can hold `needBytes` of scratch tree (and twice that is free memory). */
export function memoryDirFits(f: MemoryDirFacts, needBytes: number): boolean {
  if (f.type !== TMPFS_MAGIC || !f.options || f.options.includes('nodev') || f.options.includes('noexec')) return false;
  return f.freeBytes >= needBytes && f.freeMemory >= 2 * needBytes;
}

/** The options of the mount at `dir` in effect (the last one listed in /proc/self/mounts), or undefined. */
export function mountOptions(mounts: string, dir: string): string[] | undefined {
  let found: string[] | undefined;
  for (const line of mounts.split('\n')) {
    const fields = line.split(' ');
    if (fields[1] === dir && fields[3]) found = fields[3].split(',');
  }
  return found;
}

/** `dir` (default /dev/shm) when it fits `needBytes` of scratch tree in memory; undefined otherwise or when it cannot be told. */
export async function memoryDir(needBytes: number, dir = '/dev/shm'): Promise<string | undefined> {
  try {
    const [st, mounts] = await Promise.all([statfs(dir), readFile('/proc/self/mounts', 'utf8')]);
    const facts = { type: st.type, freeBytes: st.bavail * st.bsize, options: mountOptions(mounts, dir), freeMemory: freemem() };
    return memoryDirFits(facts, needBytes) ? dir : undefined;
  } catch {
    return undefined;
  }
}

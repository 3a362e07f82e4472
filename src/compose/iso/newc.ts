// A small newc cpio archive (the kernel's initramfs format), written here
// rather than by cpio(1) so the ISO's build container needs no cpio: the ISO
// appends one to the initramfs it boots (systemConfig.initramfs) to add its
// installer. The kernel unpacks an initramfs that is several archives one
// after another, compressed or not, each starting at a multiple of 4 bytes.
// Deterministic: owner root, fixed modes, one time for every entry, inode
// numbers in order.

export type NewcEntry =
  | { type: 'dir'; path: string; mode: number }
  | { type: 'file'; path: string; mode: number; data: Uint8Array | string }
  | { type: 'symlink'; path: string; target: string };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function header(fields: number[]): string {
  return `070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`;
}

/** The archive of `entries` in order (parents before children), ending with the trailer. */
export function newcArchive(entries: readonly NewcEntry[], mtime: number): Uint8Array {
  const parts: Buffer[] = [];
  let offset = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    offset += b.length;
  };
  const add = (name: string, mode: number, data: Buffer, ino: number, nlink: number) => {
    if (name.startsWith('/') || name.split('/').includes('..') || name.includes('\0')) throw new Error(`newc: unsafe member name ${JSON.stringify(name)}`);
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
    push(Buffer.from(header([ino, mode, 0, 0, nlink, mtime, data.length, 0, 0, 0, 0, nameBytes.length, 0]), 'ascii'));
    push(nameBytes);
    push(Buffer.alloc(pad4(offset)));
    push(data);
    push(Buffer.alloc(pad4(offset)));
  };
  entries.forEach((e, i) => {
    if (e.type === 'dir') add(e.path, S_IFDIR | e.mode, Buffer.alloc(0), i + 1, 2);
    else if (e.type === 'file') add(e.path, S_IFREG | e.mode, Buffer.from(e.data), i + 1, 1);
    else add(e.path, S_IFLNK | 0o777, Buffer.from(e.target, 'utf8'), i + 1, 1);
  });
  add('TRAILER!!!', 0, Buffer.alloc(0), 0, 1);
  return Buffer.concat(parts);
}

/** The directories leading to each of `paths` (relative, no leading slash), each once, parents first. */
export function parentDirs(paths: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const p of paths) {
    const segs = p.split('/').slice(0, -1);
    for (let i = 1; i <= segs.length; i++) dirs.add(segs.slice(0, i).join('/'));
  }
  return [...dirs].sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : a > b ? 1 : 0));
}

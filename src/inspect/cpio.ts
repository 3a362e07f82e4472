// Reading an initramfs (a cpio archive in the "newc" format, RFC-less but
// documented in the kernel's early-userspace/buffer-format.rst) without
// unpacking it: one pass over the headers records where each member's data
// is; files are then read from those offsets. Only regular files and symbolic
// links are read, and only small ones: nothing in the archive is written anywhere.
import { open } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';

/** newc headers: "070701", then 13 fields of 8 hex digits. */
const MAGIC = '070701';
const HEADER = 110;
const TRAILER = 'TRAILER!!!';
/** The largest member readFile returns (an SBOM is a few hundred KiB). */
const MAX_READ = 16 * 1024 * 1024;
/** A name longer than PATH_MAX is not from any archive a kernel unpacks. */
const MAX_NAME = 4096;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

export interface CpioMember {
  /** Absolute path in the archive ("/etc/os-release"). */
  name: string;
  mode: number;
  /** Links to the same file; cpio writes all but one of them out of order, with no data. */
  nlink: number;
  /** Seconds since the epoch. */
  mtime: number;
  size: number;
  /** Byte offset of the member's data in the file. */
  dataOffset: number;
}

/** Whether the first bytes are a newc cpio header. */
export function isNewcCpio(head: Uint8Array): boolean {
  return Buffer.from(head.subarray(0, 6)).toString('latin1') === MAGIC;
}

const align4 = (n: number) => (n + 3) & ~3;

/** Every member of the newc archive `file`, in archive order, up to its trailer. */
export async function listCpio(file: string, shown: string): Promise<CpioMember[]> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const members: CpioMember[] = [];
    const head = Buffer.alloc(HEADER);
    let at = 0;
    for (;;) {
      const bad = (why: string) => new UserError(`${shown} is not a complete newc cpio archive: ${why} at byte ${at}`, 'Copy or build the image again.');
      if ((await fh.read(head, 0, HEADER, at)).bytesRead < HEADER) throw bad('the archive ends without its trailer');
      const text = head.toString('latin1');
      if (!text.startsWith(MAGIC)) throw bad('no newc header');
      const field = (i: number) => {
        const hex = text.slice(6 + 8 * i, 14 + 8 * i);
        if (!/^[0-9A-Fa-f]{8}$/.test(hex)) throw bad('a header field that is not hexadecimal');
        return Number.parseInt(hex, 16);
      };
      const mode = field(1);
      const fileSize = field(6);
      const nameSize = field(11);
      if (nameSize < 1 || nameSize > MAX_NAME) throw bad(`a name of ${nameSize} bytes`);
      const nameBuf = Buffer.alloc(nameSize);
      if ((await fh.read(nameBuf, 0, nameSize, at + HEADER)).bytesRead < nameSize) throw bad('the archive ends inside a name');
      const raw = nameBuf.subarray(0, nameSize - 1).toString('utf8');
      const dataOffset = align4(at + HEADER + nameSize);
      if (raw === TRAILER) return members;
      if (dataOffset + fileSize > size) throw bad('a member that runs past the end of the file');
      members.push({ name: path.posix.resolve('/', raw), mode, nlink: field(4), mtime: field(5), size: fileSize, dataOffset });
      at = align4(dataOffset + fileSize);
    }
  } finally {
    await fh.close();
  }
}

/** Reads files of a listed archive, following symbolic links inside it. */
export class CpioReader {
  private readonly byName: Map<string, CpioMember>;

  constructor(
    readonly file: string,
    readonly members: CpioMember[],
  ) {
    this.byName = new Map(members.map((m) => [m.name, m]));
  }

  member(name: string): CpioMember | undefined {
    return this.byName.get(path.posix.resolve('/', name));
  }

  /** A symbolic link's target; undefined for anything else. */
  async linkTarget(name: string): Promise<string | undefined> {
    const m = this.member(name);
    if (!m || (m.mode & S_IFMT) !== S_IFLNK || m.size > MAX_NAME) return undefined;
    return (await this.bytes(m)).toString('utf8');
  }

  /** A regular file's text, following symbolic links; undefined when missing, not a file, or over 16 MiB. */
  async readFile(name: string, hops = 0): Promise<string | undefined> {
    const m = this.member(name);
    if (!m || hops > 8) return undefined;
    if ((m.mode & S_IFMT) === S_IFLNK) {
      const target = await this.linkTarget(m.name);
      return target === undefined ? undefined : this.readFile(path.posix.resolve(path.posix.dirname(m.name), target), hops + 1);
    }
    if ((m.mode & S_IFMT) !== S_IFREG || m.size > MAX_READ) return undefined;
    return (await this.bytes(m)).toString('utf8');
  }

  /** Names of the regular files directly in `dir`. */
  async listFiles(dir: string): Promise<string[]> {
    const base = path.posix.resolve('/', dir);
    return this.members
      .filter((m) => path.posix.dirname(m.name) === base && (m.mode & S_IFMT) === S_IFREG)
      .map((m) => path.posix.basename(m.name))
      .sort();
  }

  private async bytes(m: CpioMember): Promise<Buffer> {
    const fh = await open(this.file, 'r');
    try {
      const buf = Buffer.alloc(m.size);
      await fh.read(buf, 0, m.size, m.dataOffset);
      return buf;
    } finally {
      await fh.close();
    }
  }
}

// A tar writer for the few entries of an image archive: directories and
// regular files with one owner (0:0), one time and fixed modes, in POSIX
// ustar, with a pax header where ustar cannot hold a name (over 100 bytes, or
// not ASCII) or a size (8 GiB and more). Its size is known before a byte is
// written, so an archive can be streamed as the member of another archive.
import { createReadStream } from 'node:fs';
import { openNoFollow } from '../fs/safe.js';

const BLOCK = 512;
/** The largest size an ustar size field holds (11 octal digits). */
const USTAR_MAX_SIZE = 8 ** 11 - 1;

export interface TarEntry {
  /** The path in the archive (no leading slash; a directory's without a trailing one). */
  name: string;
  type: 'dir' | 'file';
  /**
   * Content: bytes in memory, or a file (read without following a link), or
   * a stream (another archive as it is made); the last two must give `size` bytes.
   */
  content?: Uint8Array | { file: string; size: number } | { stream: AsyncIterable<Uint8Array>; size: number };
}

/** The fixed metadata every entry gets. */
export interface TarStamp {
  /** Seconds since 1970: every entry's time. */
  mtime: number;
}

function sizeOf(e: TarEntry): number {
  if (e.type === 'dir' || !e.content) return 0;
  return e.content instanceof Uint8Array ? e.content.length : e.content.size;
}

const padding = (n: number) => (BLOCK - (n % BLOCK)) % BLOCK;

/** A pax extended header's records for what ustar cannot hold, or undefined. */
function paxRecords(name: string, size: number): Buffer | undefined {
  const records: string[] = [];
  const record = (key: string, value: string) => {
    // "<length> <key>=<value>\n", the length counting itself.
    const body = ` ${key}=${value}\n`;
    const bodyLength = Buffer.byteLength(body);
    let n = bodyLength + String(bodyLength).length;
    if (String(n).length !== String(bodyLength).length) n = bodyLength + String(n).length;
    records.push(`${n}${body}`);
  };
  if (Buffer.byteLength(name) > 100 || !/^[\x20-\x7e]*$/.test(name)) record('path', name);
  if (size > USTAR_MAX_SIZE) record('size', String(size));
  return records.length > 0 ? Buffer.from(records.join(''), 'utf8') : undefined;
}

function octal(buf: Buffer, offset: number, length: number, value: number): void {
  buf.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'ascii');
}

/** One 512-byte ustar header. */
function ustarHeader(name: string, type: '0' | '5' | 'x', size: number, mode: number, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size > USTAR_MAX_SIZE ? 0 : size);
  octal(h, 136, 12, mtime);
  h.write('        ', 148, 8, 'ascii');
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

/** The header block(s) of one entry: a pax header first when ustar cannot hold it. */
export function entryHeader(e: TarEntry, stamp: TarStamp): Buffer {
  const size = sizeOf(e);
  const name = e.type === 'dir' ? `${e.name}/` : e.name;
  const pax = paxRecords(name, size);
  // The ustar name is only what tools without pax see: an ASCII stand-in within 100 bytes.
  const plainName = pax
    ? Buffer.from(name.replace(/[^\x20-\x7e]/g, '_'))
        .subarray(0, 99)
        .toString('ascii')
    : name;
  const header = ustarHeader(plainName, e.type === 'dir' ? '5' : '0', size, e.type === 'dir' ? 0o755 : 0o644, stamp.mtime);
  if (!pax) return header;
  return Buffer.concat([ustarHeader('PaxHeader', 'x', pax.length, 0o644, stamp.mtime), pax, Buffer.alloc(padding(pax.length)), header]);
}

/** The archive's size in bytes: headers, contents padded to 512 bytes, and the two zero blocks that end it. */
export function tarSize(entries: readonly TarEntry[], stamp: TarStamp): number {
  let n = 2 * BLOCK;
  for (const e of entries) {
    const size = sizeOf(e);
    n += entryHeader(e, stamp).length + size + padding(size);
  }
  return n;
}

/** The bytes of a file or stream content, checked to be `size` bytes. */
async function* contentOf(c: { file: string; size: number } | { stream: AsyncIterable<Uint8Array>; size: number }): AsyncGenerator<Uint8Array> {
  let read = 0;
  const what = 'file' in c ? c.file : 'the stream';
  const check = (n: number) => {
    read += n;
    if (read > c.size) throw new Error(`${what} changed while it was archived: more than the ${c.size} bytes expected`);
  };
  if ('stream' in c) {
    for await (const chunk of c.stream) {
      check(chunk.length);
      yield chunk;
    }
  } else {
    const fh = await openNoFollow(c.file, 'r');
    try {
      for await (const chunk of createReadStream('', { fd: fh.fd, autoClose: false, highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
        check(chunk.length);
        yield chunk;
      }
    } finally {
      await fh.close();
    }
  }
  if (read !== c.size) throw new Error(`${what} changed while it was archived: ${read} bytes where ${c.size} were expected`);
}

/**
 * The archive's bytes, as they are made; content that is not the size its
 * entry says is an error. With `end: false` the closing zero blocks are left
 * out, so more entries can follow from another call.
 */
export async function* tarStream(entries: Iterable<TarEntry>, stamp: TarStamp, opts: { end?: boolean } = {}): AsyncGenerator<Uint8Array> {
  for (const e of entries) {
    yield entryHeader(e, stamp);
    const size = sizeOf(e);
    if (e.content instanceof Uint8Array) yield e.content;
    else if (e.content && e.type === 'file') yield* contentOf(e.content);
    if (padding(size) > 0) yield Buffer.alloc(padding(size));
  }
  if (opts.end !== false) yield Buffer.alloc(2 * BLOCK);
}

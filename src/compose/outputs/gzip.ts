// gz artifacts of sparse disk images, on every core, without deflating the
// holes. A 4 GiB raw image with 1.3 GB of data is mostly zeros, which pigz
// still reads and deflates (about 9 s of two cores for 3 GiB). Here the file
// is cut into 1 MiB chunks: a chunk no data extent touches is written as the
// deflate blocks of 1 MiB of zeros, made once; every other chunk is deflated
// on its own in zlib's thread pool, several at once, each ended by a sync
// flush (so the blocks join as one deflate stream, as pigz joins its own), and
// they are written in order. The result is one ordinary gzip member (no name,
// no time, as `gzip -n`), which gzip, pigz and zcat read like any other; the
// same file gives the same bytes every time.
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { dataExtents, type Extent } from '../../fs/hash.js';
import { openNoFollow } from '../../fs/safe.js';

const deflateRaw = promisify(zlib.deflateRaw) as (buf: Buffer, opts: zlib.ZlibOptions) => Promise<Buffer>;

/** Bytes per chunk (a whole number of them is a hole; each is deflated alone). */
export const GZ_CHUNK = 1024 * 1024;
/** gzip header: deflate, no flags, no time, no extra flags, OS Unix (as `gzip -n`). */
const HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]);
/** The last deflate block: final, fixed Huffman, only its end code. */
const LAST_BLOCK = Buffer.from([0x03, 0x00]);

/** Whether [start, end) touches no data extent (the extents are ordered). */
function inHole(extents: readonly Extent[] | undefined, start: number, end: number, from: { i: number }): boolean {
  if (!extents) return false;
  while (from.i < extents.length && (extents[from.i] as Extent)[1] <= start) from.i++;
  const e = extents[from.i];
  return e === undefined || e[0] >= end;
}

/**
 * Write `src` gzip-compressed at `level` to the new file `dest` (never
 * through a link, never over a file). Returns the uncompressed size.
 */
export async function gzipFile(src: string, dest: string, opts: { level?: number; jobs?: number } = {}): Promise<number> {
  const level = opts.level ?? 6;
  const jobs = Math.max(1, opts.jobs ?? 4);
  const input = await open(src, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    const output = await openNoFollow(dest, 'wx');
    try {
      const { size } = await input.stat();
      const extents = await dataExtents(input, size);
      const zeroChunks = new Map<number, Promise<Buffer>>();
      const zeros = (n: number) => {
        let z = zeroChunks.get(n);
        if (!z) {
          z = deflateRaw(Buffer.alloc(n), { level, finishFlush: zlib.constants.Z_SYNC_FLUSH });
          zeroChunks.set(n, z);
        }
        return z;
      };
      const zeroBuffer = Buffer.alloc(GZ_CHUNK);
      await output.write(HEADER);
      let crc = 0;
      const pending: Promise<Buffer>[] = [];
      const from = { i: 0 };
      const flushOne = async () => {
        await output.write((await pending.shift()) as Buffer);
      };
      try {
        for (let at = 0; at < size; at += GZ_CHUNK) {
          const n = Math.min(GZ_CHUNK, size - at);
          if (inHole(extents, at, at + n, from)) {
            crc = zlib.crc32(n === GZ_CHUNK ? zeroBuffer : zeroBuffer.subarray(0, n), crc);
            pending.push(zeros(n));
          } else {
            const buf = Buffer.allocUnsafe(n);
            const { bytesRead } = await input.read(buf, 0, n, at);
            if (bytesRead !== n) throw new Error(`${src} ended at ${at + bytesRead} bytes while it was compressed (it had ${size})`);
            crc = zlib.crc32(buf, crc);
            pending.push(deflateRaw(buf, { level, finishFlush: zlib.constants.Z_SYNC_FLUSH }));
          }
          if (pending.length >= jobs) await flushOne();
        }
        while (pending.length > 0) await flushOne();
      } catch (err) {
        // The chunks still being deflated are abandoned: their outcome is not news.
        for (const p of pending.splice(0)) p.catch(() => undefined);
        throw err;
      }
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(crc >>> 0, 0);
      trailer.writeUInt32LE(size % 2 ** 32, 4);
      await output.write(Buffer.concat([LAST_BLOCK, trailer]));
      await output.sync();
      return size;
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

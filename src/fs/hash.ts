// SHA256 of files and streams. A sparse file (a raw disk image is mostly
// holes) is hashed by its data extents: the holes, found with SEEK_DATA and
// SEEK_HOLE, are fed to the hash as zeros without reading them, so the digest
// is the one sha256sum prints while only the data is read from disk.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { run } from '../exec.js';

export interface Digest {
  sha256: string;
  size: number;
}

/** Bytes per read of a sparse file's data (and per zero block fed to the hash). */
const CHUNK = 4 << 20;
/**
 * Bytes per read of a file read to its end. Larger reads gain nothing on the
 * hash, and two fresh 4 MiB buffers per file cost page faults: a refresh that
 * copies 200 files (300 MiB) from the shared tier took 1.35 s instead of 1.0 s.
 */
const READ_CHUNK = 1 << 20;
/** Smaller files are read whole: finding their extents would cost more than reading them. */
export const SPARSE_MIN_BYTES = 64 << 20;

/** [start, end) byte ranges that hold data; everything else reads as zeros. */
export type Extent = readonly [number, number];

/**
 * Hash a whole file. With `noFollow` (cache and workspace files), a symbolic
 * link at `file` is not followed: it fails with ELOOP. A regular file of at
 * least SPARSE_MIN_BYTES with fewer blocks than its size is hashed by its data
 * extents; anything else is read to its end.
 */
export async function hashFile(file: string, opts: { noFollow?: boolean } = {}): Promise<Digest> {
  const fh = await open(file, constants.O_RDONLY | (opts.noFollow ? constants.O_NOFOLLOW : 0));
  try {
    const st = await fh.stat();
    const sparse = st.isFile() && st.size >= SPARSE_MIN_BYTES && st.blocks * 512 < st.size;
    const extents = sparse ? await dataExtents(fh, st.size) : undefined;
    if (extents) return await hashSparse(fh, st.size, extents);
    // Buffers no larger than the file (most cache files are small), read on to the end whatever its size now.
    return await hashToEnd(fh, Math.min(READ_CHUNK, Math.max(st.size, 64 << 10)));
  } finally {
    await fh.close();
  }
}

/** Read from offset 0 to the end, the next read running while the last chunk is hashed. */
async function hashToEnd(fh: FileHandle, chunk: number): Promise<Digest> {
  const hash = createHash('sha256');
  const bufs = [Buffer.allocUnsafe(chunk), Buffer.allocUnsafe(chunk)];
  let size = 0;
  let turn = 0;
  let pending = fh.read(bufs[0] as Buffer, 0, chunk, 0);
  for (;;) {
    const { bytesRead, buffer } = await pending;
    if (bytesRead === 0) break;
    size += bytesRead;
    turn ^= 1;
    pending = fh.read(bufs[turn] as Buffer, 0, chunk, size);
    hash.update(bytesRead === chunk ? buffer : buffer.subarray(0, bytesRead));
  }
  return { sha256: hash.digest('hex'), size };
}

// The sparse hash runs on a thread of its own: fed zeros for the holes, it
// holds a core for seconds (4 GiB at about 1.7 GB/s), which on the main thread
// would stall everything else meanwhile (the hashes of the other artifacts,
// which finalize runs side by side, and the build's progress and steps).
// Plain CommonJS, evaluated: no file to find beside a bundle. It reads the
// descriptor the caller opened; the caller closes it.
const SPARSE_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { readSync } = require('node:fs');
const { fd, size, extents, chunk } = workerData;
try {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(chunk);
  const zeros = Buffer.alloc(chunk);
  const zero = (n) => { for (let left = n; left > 0; left -= chunk) hash.update(left >= chunk ? zeros : zeros.subarray(0, left)); };
  let at = 0;
  for (const [start, end] of extents) {
    zero(start - at);
    for (let pos = start; pos < end; ) {
      const want = Math.min(chunk, end - pos);
      const got = readSync(fd, buf, 0, want, pos);
      if (got !== want) throw new Error('the file changed while it was hashed (a read at ' + pos + ' got ' + got + ' of ' + want + ' bytes)');
      hash.update(want === chunk ? buf : buf.subarray(0, want));
      pos += want;
    }
    at = end;
  }
  zero(size - at);
  parentPort.postMessage({ sha256: hash.digest('hex') });
} catch (err) {
  parentPort.postMessage({ error: String((err && err.message) || err) });
}
`;

/** Hash `size` bytes of the open file `fh`: the extents' bytes read, the holes between them as zeros (on a thread of its own). */
export function hashSparse(fh: FileHandle, size: number, extents: readonly Extent[]): Promise<Digest> {
  return new Promise((resolve, reject) => {
    // No execArgv: the thread needs no loader (tsx) of the main one.
    const worker = new Worker(SPARSE_WORKER, { eval: true, execArgv: [], workerData: { fd: fh.fd, size, extents, chunk: CHUNK } });
    worker.once('message', (m: { sha256?: string; error?: string }) => {
      if (m.sha256) resolve({ sha256: m.sha256, size });
      else reject(new Error(m.error ?? 'the hashing thread gave no digest'));
    });
    worker.once('error', reject);
    // After a message this changes nothing (a promise settles once).
    worker.once('exit', (code) => reject(new Error(`the hashing thread ended (exit code ${code}) without a digest`)));
  });
}

// Node has no lseek: perl (perl-base is Essential in Debian) walks SEEK_DATA (3)
// and SEEK_HOLE (4) on the descriptor it gets as stdin, ours, opened without
// following links, and prints the extents as JSON. ENXIO from SEEK_DATA means
// no data after that offset; any other failure (a filesystem without SEEK_DATA)
// exits 3 and the file is read whole.
const EXTENTS_PL = [
  'use strict; use Errno; my ($size, $pos, @e) = ($ARGV[0], 0);',
  'while ($pos < $size) {',
  '  my $d = sysseek(STDIN, $pos, 3);',
  '  if (!defined $d) { last if $!{ENXIO}; exit 3 }',
  '  $d += 0; last if $d >= $size;',
  '  my $h = sysseek(STDIN, $d, 4); exit 3 unless defined $h;',
  '  $h += 0; $h = $size if $h > $size; exit 3 if $h <= $d;',
  '  push @e, "[$d,$h]"; $pos = $h;',
  '}',
  'print "[", join(",", @e), "]\\n";',
].join('\n');

/** The data extents of the open file `fh` of `size` bytes, or undefined when they cannot be found (then read it whole). */
export async function dataExtents(fh: FileHandle, size: number): Promise<Extent[] | undefined> {
  const r = await run({ command: 'perl', args: ['-e', EXTENTS_PL, String(size)] }, { stdinFd: fh.fd, reject: false }).catch(() => undefined);
  if (r?.exitCode !== 0) return undefined;
  try {
    const list = JSON.parse(r.stdout) as unknown;
    if (!Array.isArray(list)) return undefined;
    let last = 0;
    for (const e of list) {
      // Ordered, inside the file, not overlapping: anything else is not trusted and the file is read whole.
      if (!Array.isArray(e) || e.length !== 2 || !Number.isSafeInteger(e[0]) || !Number.isSafeInteger(e[1])) return undefined;
      if (e[0] < last || e[1] <= e[0] || e[1] > size) return undefined;
      last = e[1];
    }
    return list as Extent[];
  } catch {
    return undefined;
  }
}

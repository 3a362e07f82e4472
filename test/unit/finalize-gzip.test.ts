// The gz writer of finalize (src/compose/outputs/gzip.ts): sparse files with
// holes and data, read back by gzip itself.
import { createHash } from 'node:crypto';
import { open, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GZ_CHUNK, gzipFile } from '../../src/compose/outputs/gzip.js';
import { runBinary } from '../../src/exec.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-gzip-');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A sparse file of `size` bytes with data (not zeros) at each [offset, length]. */
async function sparse(file: string, size: number, data: [number, number][]): Promise<void> {
  const fh = await open(file, 'w');
  try {
    await fh.truncate(size);
    for (const [at, n] of data) {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = (at + i) % 251 || 1;
      await fh.write(b, 0, n, at);
    }
  } finally {
    await fh.close();
  }
}

describe('gzipFile', () => {
  it('writes a gzip file that gzip reads back to the same bytes, holes and data, and the same bytes every time', async () => {
    const dir = await tempDir();
    const src = path.join(dir, 'disk.raw');
    // Holes of whole chunks, a chunk half data, data across a chunk boundary, a short last chunk.
    const size = 9 * GZ_CHUNK + 12345;
    await sparse(src, size, [
      [100, 5000],
      [3 * GZ_CHUNK - 700, 1400],
      [6 * GZ_CHUNK, GZ_CHUNK],
      [size - 2000, 2000],
    ]);
    const out = path.join(dir, 'disk.raw.gz');
    expect(await gzipFile(src, out, { jobs: 3 })).toBe(size);
    const test = await runBinary({ command: 'gzip', args: ['-t', out] }, { reject: false });
    expect(test.exitCode, test.stderr).toBe(0);
    const back = await runBinary({ command: 'gzip', args: ['-dc', out] });
    expect(back.stdout.length).toBe(size);
    expect(sha(back.stdout)).toBe(sha(await readFile(src)));
    const again = path.join(dir, 'again.gz');
    await gzipFile(src, again, { jobs: 1 });
    expect(sha(await readFile(again))).toBe(sha(await readFile(out)));
    // No name and no time in the header, as gzip -n.
    expect([...(await readFile(out)).subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  });

  it('writes the holes of a large sparse file without deflating them, about as small as gzip would', async () => {
    const dir = await tempDir();
    const src = path.join(dir, 'big.raw');
    const size = 48 * GZ_CHUNK;
    await sparse(src, size, [[GZ_CHUNK * 10, 4096]]);
    const out = path.join(dir, 'big.raw.gz');
    await gzipFile(src, out);
    const ours = (await readFile(out)).length;
    const theirs = (await runBinary({ command: 'gzip', args: ['-6', '-n', '-c', src] })).stdout.length;
    // Zeros: gzip writes about 1 KiB per MiB, and so do the prepared zero chunks.
    expect(ours).toBeLessThan(theirs * 1.5);
    expect(sha((await runBinary({ command: 'gzip', args: ['-dc', out] })).stdout)).toBe(sha(await readFile(src)));
  });

  it('compresses an empty file to a gzip file of nothing', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'empty'), '');
    await gzipFile(path.join(dir, 'empty'), path.join(dir, 'empty.gz'));
    expect((await runBinary({ command: 'gzip', args: ['-dc', path.join(dir, 'empty.gz')] })).stdout.length).toBe(0);
  });

  it('reads no file through a link, and writes over nothing', async () => {
    const dir = await tempDir();
    const src = path.join(dir, 'disk.raw');
    await writeFile(src, 'data');
    await symlink(src, path.join(dir, 'link.raw'));
    await expect(gzipFile(path.join(dir, 'link.raw'), path.join(dir, 'a.gz'))).rejects.toThrow();
    await writeFile(path.join(dir, 'b.gz'), 'kept');
    await expect(gzipFile(src, path.join(dir, 'b.gz'))).rejects.toThrow();
    expect(await readFile(path.join(dir, 'b.gz'), 'utf8')).toBe('kept');
  });
});

// hashFile against sha256sum on real sparse files: holes at the start, the
// end, between odd-sized data, a file that is all hole, and a dense file;
// the extents perl finds; and a link refused with noFollow.
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataExtents, hashFile, SPARSE_MIN_BYTES } from '../../src/fs/hash.js';

let dir: string;
const MiB = 1 << 20;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'g3-hash-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A sparse file of `size` bytes with `pieces` of pseudo-random data written at their offsets. */
async function sparse(name: string, size: number, pieces: [offset: number, length: number][]): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, '');
  await truncate(file, size);
  const fh = await open(file, 'r+');
  try {
    for (const [i, [offset, length]] of pieces.entries()) {
      const data = Buffer.alloc(length);
      for (let k = 0; k < length; k++) data[k] = (k * 31 + i * 7 + 1) & 0xff;
      await fh.write(data, 0, length, offset);
    }
  } finally {
    await fh.close();
  }
  return file;
}

const sha256sum = (file: string) => (execFileSync('sha256sum', ['--', file], { encoding: 'utf8' }).split(' ')[0] as string).trim();

describe('hashFile on sparse files', () => {
  const size = SPARSE_MIN_BYTES + 5 * MiB + 123;
  const cases: [string, [number, number][]][] = [
    ['all hole', []],
    ['data at the start', [[0, 3 * MiB + 17]]],
    ['data at the end', [[size - 4097, 4097]]],
    [
      'odd pieces between holes',
      [
        [4097, 10_000],
        [20 * MiB + 1, MiB],
        [40 * MiB, 5 * MiB + 3],
      ],
    ],
  ];
  for (const [name, pieces] of cases) {
    it(`gives sha256sum's digest and size: ${name}`, async () => {
      const file = await sparse(`${name.replaceAll(' ', '-')}.img`, size, pieces);
      const d = await hashFile(file, { noFollow: true });
      expect(d).toEqual({ sha256: sha256sum(file), size });
    });
  }

  it('finds the data extents with SEEK_DATA and SEEK_HOLE, covering every written byte', async () => {
    const file = await sparse('extents.img', size, [
      [8 * MiB, MiB],
      [30 * MiB, 2 * MiB],
    ]);
    const fh = await open(file, 'r');
    try {
      const extents = await dataExtents(fh, size);
      expect(extents).toBeDefined();
      const list = extents ?? [];
      // Filesystems round extents out to their blocks: each written range lies inside one extent.
      for (const [off, len] of [
        [8 * MiB, MiB],
        [30 * MiB, 2 * MiB],
      ] as const)
        expect(list.some(([a, b]) => a <= off && b >= off + len)).toBe(true);
      expect(list.reduce((n, [a, b]) => n + (b - a), 0)).toBeLessThan(8 * MiB);
    } finally {
      await fh.close();
    }
  });

  it('hashes a dense file and a small file by reading them', async () => {
    const dense = path.join(dir, 'dense.bin');
    const bytes = Buffer.alloc(9 * MiB + 5, 7);
    await writeFile(dense, bytes);
    expect(await hashFile(dense)).toEqual({ sha256: sha256sum(dense), size: bytes.length });
    const empty = path.join(dir, 'empty.bin');
    await writeFile(empty, '');
    expect(await hashFile(empty)).toEqual({ sha256: sha256sum(empty), size: 0 });
  });

  it('refuses a symbolic link with noFollow and follows it without', async () => {
    const target = await sparse('target.img', size, [[0, 100]]);
    const link = path.join(dir, 'link.img');
    await symlink(target, link);
    await expect(hashFile(link, { noFollow: true })).rejects.toMatchObject({ code: 'ELOOP' });
    expect((await hashFile(link)).sha256).toBe(sha256sum(target));
  });
});

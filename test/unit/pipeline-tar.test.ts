// The tar writer of the carrier image (src/pipeline/tar.ts), read back by GNU tar.
import { mkdir, readFile, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/exec.js';
import { entryHeader, type TarEntry, tarSize, tarStream } from '../../src/pipeline/tar.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-tar-');
const STAMP = { mtime: 1_700_000_000 };

async function bytesOf(entries: TarEntry[], opts?: { end?: boolean }): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of tarStream(entries, STAMP, opts)) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Write `archive` into `dir` and let GNU tar list it verbosely and extract it into `dir/x`. */
async function gnuTar(dir: string, archive: Buffer): Promise<{ listing: string[]; out: string }> {
  const file = path.join(dir, 'a.tar');
  await writeFile(file, archive);
  const listing = (await run({ command: 'tar', args: ['--numeric-owner', '--full-time', '-tvf', file] }, { env: { TZ: 'UTC' } })).stdout.split('\n');
  const out = path.join(dir, 'x');
  await mkdir(out);
  await run({ command: 'tar', args: ['-xf', file, '-C', out] });
  return { listing, out };
}

describe('tarStream', () => {
  it('writes what GNU tar reads back: names, sizes, modes, one owner and one time, and the contents', async () => {
    const dir = await tempDir();
    const big = path.join(dir, 'big.bin');
    const content = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < content.length; i++) content[i] = i % 253;
    await writeFile(big, content);
    const entries: TarEntry[] = [
      { name: 'disk', type: 'dir' },
      { name: 'disk/a.json', type: 'file', content: Buffer.from('{"a":1}\n') },
      { name: 'disk/big.bin', type: 'file', content: { file: big, size: content.length } },
      { name: 'disk/empty', type: 'file', content: Buffer.alloc(0) },
    ];
    const archive = await bytesOf(entries);
    expect(archive.length).toBe(tarSize(entries, STAMP));
    expect(archive.length % 512).toBe(0);
    const { listing, out } = await gnuTar(dir, archive);
    expect(listing.map((l) => l.replace(/\s+/g, ' '))).toEqual([
      'drwxr-xr-x 0/0 0 2023-11-14 22:13:20 disk/',
      '-rw-r--r-- 0/0 8 2023-11-14 22:13:20 disk/a.json',
      `-rw-r--r-- 0/0 ${content.length} 2023-11-14 22:13:20 disk/big.bin`,
      '-rw-r--r-- 0/0 0 2023-11-14 22:13:20 disk/empty',
    ]);
    expect(await readFile(path.join(out, 'disk/a.json'), 'utf8')).toBe('{"a":1}\n');
    expect((await readFile(path.join(out, 'disk/big.bin'))).equals(content)).toBe(true);
  });

  it('gives the same bytes for the same files whatever their own times, and other bytes for another time', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'f');
    await writeFile(file, 'same\n');
    const entries: TarEntry[] = [{ name: 'disk/f', type: 'file', content: { file, size: 5 } }];
    const a = await bytesOf(entries);
    await utimes(file, 1000, 2_000_000);
    expect((await bytesOf(entries)).equals(a)).toBe(true);
    const other: Uint8Array[] = [];
    for await (const c of tarStream(entries, { mtime: STAMP.mtime + 1 })) other.push(c);
    expect(Buffer.concat(other).equals(a)).toBe(false);
  });

  it('names a long or non-ASCII path in a pax header, which GNU tar takes', async () => {
    const dir = await tempDir();
    const long = `disk/${'n'.repeat(150)}.qcow2`;
    const entries: TarEntry[] = [
      { name: long, type: 'file', content: Buffer.from('x') },
      { name: 'disk/bild-ä.raw', type: 'file', content: Buffer.from('y') },
      // 91 bytes: " path=<name>\n" is 98, so the record would be 100 bytes counting two digits, and is 101 with three.
      { name: `disk/${'a'.repeat(84)}ä`, type: 'file', content: Buffer.from('z') },
    ];
    const archive = await bytesOf(entries);
    expect(archive.length).toBe(tarSize(entries, STAMP));
    const { out } = await gnuTar(dir, archive);
    expect((await readdir(path.join(out, 'disk'))).sort()).toEqual(['bild-ä.raw', `${'n'.repeat(150)}.qcow2`, `${'a'.repeat(84)}ä`].sort());
    const header = entryHeader(entries[2] as TarEntry, STAMP)
      .subarray(512, 1024)
      .toString('utf8')
      .replace(/\0+$/, '');
    expect(header.startsWith('101 path=')).toBe(true);
    expect(Buffer.byteLength(header)).toBe(101);
  });

  it('puts a size of 8 GiB or more in a pax record whose length counts itself', () => {
    const size = 9 * 1024 ** 3;
    const header = entryHeader({ name: 'layer.tar', type: 'file', content: { stream: (async function* () {})(), size } }, STAMP);
    expect(header.length).toBe(3 * 512);
    const record = header.subarray(512, 1024).toString('utf8').replace(/\0+$/, '');
    expect(record).toBe(`19 size=${size}\n`);
    expect(Buffer.byteLength(record)).toBe(19);
    // The ustar size field holds 0; the pax record wins.
    expect(header.subarray(1024 + 124, 1024 + 136).toString('ascii')).toBe('00000000000\0');
  });

  it('leaves out the closing blocks with end: false, so another call can go on', async () => {
    const first = await bytesOf([{ name: 'a', type: 'file', content: Buffer.from('1') }], { end: false });
    const second = await bytesOf([{ name: 'b', type: 'file', content: Buffer.from('2') }]);
    expect(first.length).toBe(1024);
    const dir = await tempDir();
    const { listing } = await gnuTar(dir, Buffer.concat([first, second]));
    expect(listing.map((l) => l.split(/\s+/).at(-1))).toEqual(['a', 'b']);
  });

  it('fails when a file or stream does not have the size its entry says', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'grew');
    await writeFile(file, 'four');
    await expect(bytesOf([{ name: 'f', type: 'file', content: { file, size: 3 } }])).rejects.toThrow(
      /grew changed while it was archived: more than the 3 bytes/,
    );
    await expect(bytesOf([{ name: 'f', type: 'file', content: { file, size: 5 } }])).rejects.toThrow(/grew changed while it was archived: 4 bytes where 5/);
    async function* two() {
      yield Buffer.from('ab');
    }
    await expect(bytesOf([{ name: 's', type: 'file', content: { stream: two(), size: 3 } }])).rejects.toThrow(/the stream changed .*: 2 bytes where 3/);
  });

  it('never reads a file through a symbolic link', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'secret'), 'data');
    await symlink(path.join(dir, 'secret'), path.join(dir, 'link'));
    await expect(bytesOf([{ name: 'f', type: 'file', content: { file: path.join(dir, 'link'), size: 4 } }])).rejects.toThrow(/symbolic link|link/);
  });
});

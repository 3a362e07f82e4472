import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flatFilenames, flattenIndex } from '../../src/compose/rootfs/local-index.js';
import { parsePackages } from '../../src/deb/packages.js';
import { UnexpectedLinkError } from '../../src/fs/safe.js';

// Stanzas as apt-ftparchive writes them for links, some resolved to their targets' paths; a multi-byte Description.
const stanza = (i: number) =>
  `Package: p${i}\nVersion: 1.${i}\nArchitecture: amd64\nDepends: libc6 (>= 2.36)\n` +
  `Filename: ${i % 2 ? './' : '/var/cache/g3/pkg/'}p${i}_1.${i}_amd64.deb\nSize: ${i + 1}\nSHA256: ${'a'.repeat(64)}\n` +
  `Description: paquet numéro ${i} — ${'x'.repeat(200)}\n`;
// ~1.4 MB: many read chunks, lines and characters split between them.
const TEXT = Array.from({ length: 5000 }, (_, i) => stanza(i)).join('\n');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'local-index-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('flattenIndex', () => {
  it('rewrites the index as the whole-text rewrite did, and returns its records', async () => {
    const index = path.join(dir, 'Packages');
    await writeFile(index, TEXT);
    const records = await flattenIndex(index, 'local');
    const want = flatFilenames(TEXT);
    expect(await readFile(index, 'utf8')).toBe(want);
    expect(records).toStrictEqual(parsePackages(want, 'local'));
    expect(records).toHaveLength(5000);
    expect(records[0]!.filename).toBe('./p0_1.0_amd64.deb');
    expect(records[4999]!.filename).toBe('./p4999_1.4999_amd64.deb');
  });

  it('keeps a last line without its newline', async () => {
    const index = path.join(dir, 'Packages');
    const text = stanza(0).trimEnd();
    await writeFile(index, text);
    const [record] = await flattenIndex(index, 'local');
    expect(await readFile(index, 'utf8')).toBe(text.replace('/var/cache/g3/pkg/', './'));
    expect(record!.filename).toBe('./p0_1.0_amd64.deb');
  });

  it('reads no index through a symbolic link', async () => {
    const real = path.join(dir, 'elsewhere');
    await writeFile(real, stanza(0));
    await symlink(real, path.join(dir, 'Packages'));
    await expect(flattenIndex(path.join(dir, 'Packages'), 'local')).rejects.toThrow(UnexpectedLinkError);
    expect(await readFile(real, 'utf8')).toBe(stanza(0));
  });
});

describe('flatFilenames', () => {
  it.each([
    ['Filename: /var/cache/g3/pkg/a_1_amd64.deb\n', 'Filename: ./a_1_amd64.deb\n'],
    ['Filename: ./a_1_amd64.deb\n', 'Filename: ./a_1_amd64.deb\n'],
    ['Filename: a_1_amd64.deb\n', 'Filename: ./a_1_amd64.deb\n'],
    ['Description: Filename: /x/y\n', 'Description: Filename: /x/y\n'],
  ])('makes %j %j', (from, to) => {
    expect(flatFilenames(from)).toBe(to);
  });
});

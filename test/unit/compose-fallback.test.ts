// The composer image's fallback sources: each repository pinned to its own
// keyrings (copied into the build context, named by content), unsigned only
// for a repository marked trusted without a key, and host networking only for
// a repository on the loopback.
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fallbackSources, isLoopback } from '../../src/compose/images/fallback.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-fallback-');
const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

describe('fallbackSources', () => {
  it('copies each keyring into composer-<provider>/keyrings by content and pins each repository to its own', async () => {
    const dir = await tempDir();
    const binary = Buffer.from([0x99, 0x01, 0x0d, 0x04]);
    const armored = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF\n-----END PGP PUBLIC KEY BLOCK-----\n';
    await writeFile(path.join(dir, 'archive.gpg'), binary);
    await writeFile(path.join(dir, 'extra.asc'), armored);
    const cache = path.join(dir, '.g3-cache');
    const r = await fallbackSources(
      [
        { url: 'http://mirror.invalid/debian', codename: 'trixie', components: ['main', 'contrib'], keyrings: [path.join(dir, 'archive.gpg')], trusted: false },
        {
          url: 'https://extra.invalid/apt',
          codename: 'stable',
          components: ['main'],
          keyrings: [path.join(dir, 'archive.gpg'), path.join(dir, 'extra.asc')],
          trusted: false,
        },
        { url: 'http://unsigned.invalid/repo', codename: 'local', components: ['main'], keyrings: [], trusted: true },
        { url: 'http://plain.invalid/repo', codename: 'x', components: ['main'], keyrings: [], trusted: false },
      ],
      cache,
      'debian-debian13-x86_64',
    );
    const k = '/g3-cache/composer-debian-debian13-x86_64/keyrings';
    expect(r.lines).toEqual([
      `deb [signed-by=${k}/${sha(binary)}.gpg] http://mirror.invalid/debian trixie main contrib`,
      `deb [signed-by=${k}/${sha(binary)}.gpg,${k}/${sha(armored)}.asc] https://extra.invalid/apt stable main`,
      'deb [trusted=yes] http://unsigned.invalid/repo local main',
      'deb http://plain.invalid/repo x main',
    ]);
    expect(r.network).toBeUndefined();
    const stored = path.join(cache, 'composer-debian-debian13-x86_64', 'keyrings');
    expect((await readdir(stored)).sort()).toEqual([`${sha(armored)}.asc`, `${sha(binary)}.gpg`].sort());
    expect(await readFile(path.join(stored, `${sha(binary)}.gpg`))).toEqual(binary);
  });

  it('asks for host networking when a repository is on the loopback', async () => {
    const r = await fallbackSources(
      [{ url: 'http://127.0.0.1:3142/debian', codename: 'trixie', components: ['main'], keyrings: [], trusted: true }],
      await tempDir(),
      'p',
    );
    expect(r.network).toBe('host');
  });
});

describe('isLoopback', () => {
  it.each([
    ['http://127.0.0.1:8080/debian', true],
    ['http://127.1.2.3/debian', true],
    ['http://localhost/debian', true],
    ['http://[::1]:3142/debian', true],
    ['http://10.0.0.1/debian', false],
    ['http://mirror.invalid/debian', false],
    ['http://127.0.0.1.mirror.invalid/debian', false],
    ['not a url', false],
  ])('%s: %s', (url, want) => {
    expect(isLoopback(url)).toBe(want);
  });
});

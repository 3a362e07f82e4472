// The installed-package snapshot's key and pruning, the scratch choice, and the
// runner's view of files (stat, directory listing) used when the root
// filesystem lives where only the runner sees it.
import { createHash } from 'node:crypto';
import { mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deltaCandidates, INSTALL_RECIPE, installedContents, installedKey, KEEP_INSTALLED, pruneInstalled } from '../../src/compose/rootfs/installed.js';
import { installedPaths } from '../../src/layout/paths.js';
import { LocalRunner, listDirIn, readFileIn, statIn } from '../../src/docker/runner.js';
import { scratchChoice, TMPFS_MIN_AVAILABLE } from '../../src/commands/build.js';
import type { LockedPackage } from '../../src/lock/types.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-installed-');

function pkg(name: string, version = '1.0-1', architecture = 'amd64', salt = ''): LockedPackage {
  return {
    name,
    version,
    architecture,
    filename: `pool/main/${name[0]}/${name}/${name}_${version}_${architecture}.deb`,
    size: 1000,
    sha256: createHash('sha256').update(`${name} ${version} ${architecture}${salt}`).digest('hex'),
    repository: 'main',
  };
}

describe('installedKey', () => {
  const chroot = 'a'.repeat(64);
  const packages = [pkg('bash', '5.2-1'), pkg('tzdata', '2025b', 'all'), pkg('linux-image-amd64', '6.12')];

  it('is a SHA-256 that does not depend on the order of the packages', () => {
    const key = installedKey(chroot, packages);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(installedKey(chroot, [...packages].reverse())).toBe(key);
  });

  it.each([
    ['another chroot', () => installedKey('b'.repeat(64), packages)],
    ['another version', () => installedKey(chroot, [pkg('bash', '5.2-2'), packages[1]!, packages[2]!])],
    ['another file with the same version', () => installedKey(chroot, [pkg('bash', '5.2-1', 'amd64', 'rebuilt'), packages[1]!, packages[2]!])],
    ['one package more', () => installedKey(chroot, [...packages, pkg('less', '668')])],
    ['one package less', () => installedKey(chroot, packages.slice(1))],
  ])('changes with %s', (_what, other) => {
    expect(other()).not.toBe(installedKey(chroot, packages));
  });

  it('names the tarball and stamp after the key under chrootbuild/installed, sharing the chroot lock', () => {
    expect(installedPaths('/w', 'debian-debian13-x86_64', 'k')).toEqual({
      dir: '/w/debian-debian13-x86_64/chrootbuild/installed',
      tarball: '/w/debian-debian13-x86_64/chrootbuild/installed/k.tar.zst',
      stamp: '/w/debian-debian13-x86_64/chrootbuild/installed/k.json',
      lockDir: '/w/debian-debian13-x86_64/chrootbuild/.lock',
    });
  });
});

describe('pruneInstalled', () => {
  it(`keeps the ${KEEP_INSTALLED} most recently used snapshots and removes older ones and orphaned tarballs`, async () => {
    const dir = await tempDir();
    const keys = ['1', '2', '3', '4', '5'].map((c) => c.repeat(64));
    for (const [i, k] of keys.entries()) {
      await writeFile(path.join(dir, `${k}.tar.zst`), 'tar');
      await writeFile(path.join(dir, `${k}.json`), '{}');
      // key 1 was used last, then 2, ... (stamp mtimes say when)
      const t = new Date(Date.UTC(2026, 0, 10 - i));
      await utimes(path.join(dir, `${k}.json`), t, t);
    }
    const orphan = `${'9'.repeat(64)}.tar.zst`;
    await writeFile(path.join(dir, orphan), 'half published');
    await writeFile(path.join(dir, 'notes.txt'), 'not ours');
    const removed = await pruneInstalled(dir, 3);
    expect(removed.sort()).toEqual([`${keys[3]}.json`, `${keys[3]}.tar.zst`, `${keys[4]}.json`, `${keys[4]}.tar.zst`, orphan].sort());
    expect((await listDirIn(new LocalRunner(), dir)).sort()).toEqual([...keys.slice(0, 3).flatMap((k) => [`${k}.json`, `${k}.tar.zst`]), 'notes.txt'].sort());
  });

  it('does nothing in a directory that does not exist', async () => {
    expect(await pruneInstalled(path.join(await tempDir(), 'none'), 3)).toEqual([]);
  });
});

describe('deltaCandidates', () => {
  it('reads the stamps that record what their snapshot holds, skipping those that do not, name another key or are links', async () => {
    const dir = await tempDir();
    const chroot = 'c'.repeat(64);
    const [good, old, wrongKey, linked] = ['1', '2', '3', '4'].map((c) => c.repeat(64)) as [string, string, string, string];
    const contents = installedContents(chroot, 1_760_000_000, [pkg('less'), pkg('bash')]);
    const stamp = (key: string, extra: object = { contents }) => JSON.stringify({ key, sha256: 'x', size: 1, packages: 2, created: 'now', ...extra });
    await writeFile(path.join(dir, `${good}.json`), stamp(good));
    await utimes(path.join(dir, `${good}.json`), 1_700_000_000, 1_700_000_000);
    // A stamp from before the stamps recorded their contents.
    await writeFile(path.join(dir, `${old}.json`), stamp(old, {}));
    await writeFile(path.join(dir, `${wrongKey}.json`), stamp(good));
    await writeFile(path.join(dir, 'elsewhere.json'), stamp(linked));
    await symlink(path.join(dir, 'elsewhere.json'), path.join(dir, `${linked}.json`));
    await writeFile(path.join(dir, `${'5'.repeat(64)}.json`), '{not json');
    expect(contents).toEqual({
      recipe: INSTALL_RECIPE,
      chroot,
      epoch: 1_760_000_000,
      packages: [pkg('bash'), pkg('less')].map((p) => `${p.name} ${p.version} ${p.architecture} ${p.sha256}`),
    });
    expect(await deltaCandidates(dir)).toEqual([{ key: good, contents, used: 1_700_000_000_000 }]);
    expect(await deltaCandidates(path.join(dir, 'none'))).toEqual([]);
  });
});

describe('scratchChoice', () => {
  it.each([
    ['tmpfs', 0, 'tmpfs'],
    ['disk', 64 * 1024 ** 3, 'disk'],
    ['auto', TMPFS_MIN_AVAILABLE, 'tmpfs'],
    ['auto', TMPFS_MIN_AVAILABLE - 1, 'disk'],
  ] as const)('%s with %d bytes available is %s', (setting, available, want) => {
    expect(scratchChoice(setting, available)).toBe(want);
  });
});

describe('files where the runner runs', () => {
  it('stats without following symbolic links, with the mtime in nanoseconds', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'd'));
    await writeFile(path.join(dir, 'f'), 'x');
    await symlink('d', path.join(dir, 'l'));
    await utimes(path.join(dir, 'd'), 1_700_000_000.25, 1_700_000_000.25);
    const runner = new LocalRunner();
    expect(await statIn(runner, path.join(dir, 'd'))).toEqual({ type: 'directory', mtimeNs: 1_700_000_000_250_000_000n });
    expect((await statIn(runner, path.join(dir, 'f')))?.type).toBe('file');
    expect((await statIn(runner, path.join(dir, 'l')))?.type).toBe('symlink');
    expect(await statIn(runner, path.join(dir, 'missing'))).toBeUndefined();
    expect(await statIn(runner, path.join(dir, 'f', 'under-a-file'))).toBeUndefined();
  });

  it('lists names with spaces, newlines and leading dashes, sorted, and reads files', async () => {
    const dir = await tempDir();
    for (const n of ['b c', 'a\nnewline', '-dash', '.hidden']) await writeFile(path.join(dir, n), n);
    const runner = new LocalRunner();
    expect(await listDirIn(runner, dir)).toEqual(['-dash', '.hidden', 'a\nnewline', 'b c']);
    expect(await listDirIn(runner, await tempDir())).toEqual([]);
    expect(await readFileIn(runner, path.join(dir, '-dash'))).toBe('-dash');
  });
});

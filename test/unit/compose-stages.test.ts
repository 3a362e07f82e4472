// The compose stages' pure parts and their checks on real files: the local
// repository's index check, the chroot snapshot, the installed-package check,
// the base image's Essential set and the build directory names.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { baseImageRef, basePackagesOf, essentialPackages } from '../../src/compose/images/base-image.js';
import { diskSeed, imageBuildDir, rawImageName } from '../../src/compose/compose.js';
import { aptInstallArgs, checkInstalled, clampShadowDays, INSTALL_LEFTOVERS, initramfsToolsImage, lockEpoch } from '../../src/compose/rootfs/install.js';
import { checkIndex } from '../../src/compose/rootfs/local-repo.js';
import { LocalRunner } from '../../src/docker/runner.js';
import { basePackages, gzipProgram, snapshotKey, snapshotProblem, type SnapshotStamp } from '../../src/compose/rootfs/snapshot.js';
import { type SnapshotPaths, snapshotPaths } from '../../src/layout/paths.js';
import { parseDpkgStatus } from '../../src/deb/status.js';
import { StepError, UserError } from '../../src/errors.js';
import type { LockedPackage, LockedSet, LockFile } from '../../src/lock/types.js';
import type { ImageTemplate } from '../../src/template/types.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-compose-');

/** A locked package whose SHA256 and file name follow from name and version. */
function pkg(name: string, version = '1.0-1', architecture = 'amd64'): LockedPackage {
  const file = `${name}_${version.replace(/^\d+:/, '')}_${architecture}.deb`;
  return {
    name,
    version,
    architecture,
    filename: `pool/main/${name[0]}/${name}/${file}`,
    size: 1000,
    sha256: createHash('sha256').update(`${name} ${version} ${architecture}`).digest('hex'),
    repository: 'main',
  };
}

function set(packages: LockedPackage[], baseSet: string[]): LockedSet {
  return { requested: [], base: 'essential', baseSet, packages, installOrder: packages.map((p) => p.name) };
}

function lockWith(image: LockedSet, tools: LockedSet = set([], [])): LockFile {
  const request = { providerId: 'debian13-amd64', arch: 'amd64', repositories: [], packages: [], tools: [] };
  return { lockVersion: 1, target: 'minimal', providerId: 'debian13-amd64', arch: 'amd64', requestDigest: 'r1', request, repositories: [], image, tools };
}

describe('checkIndex', () => {
  const a = pkg('bash');
  const b = pkg('coreutils');
  const expected = new Map([
    ['bash_1.0-1_amd64.deb', a],
    ['coreutils_1.0-1_amd64.deb', b],
  ]);
  const entry = (p: LockedPackage, sha256 = p.sha256) => ({ file: path.posix.basename(p.filename), sha256, name: p.name });

  it('accepts an index that lists every locked file with its locked SHA256', () => {
    expect(() => checkIndex([entry(b), entry(a)], expected, '/cache/pkg')).not.toThrow();
  });

  it('rejects a file the lock does not name as a failed step', () => {
    const extra = pkg('evil');
    expect(() => checkIndex([entry(a), entry(b), entry(extra)], expected, '/cache/pkg')).toThrow(StepError);
    expect(() => checkIndex([entry(a), entry(b), entry(extra)], expected, '/cache/pkg')).toThrow(/evil_1\.0-1_amd64\.deb.*does not name/);
  });

  it('names the changed file, both digests and the refetch command when a SHA256 differs', () => {
    const changed = 'f'.repeat(64);
    let caught: unknown;
    try {
      checkIndex([entry(a, changed), entry(b)], expected, '/cache/pkg');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UserError);
    const err = caught as UserError;
    expect(err.message).toContain('/cache/pkg/bash_1.0-1_amd64.deb changed after it was verified');
    expect(err.message).toContain(changed);
    expect(err.message).toContain(a.sha256);
    expect(err.hint).toMatch(/cache --verify/);
  });

  it('counts the locked files the index lacks and lists at most five', () => {
    const many = Array.from({ length: 7 }, (_, i) => pkg(`lib${i}`));
    const want = new Map(many.map((p) => [path.posix.basename(p.filename), p]));
    expect(() => checkIndex([entry(many[0]!)], want, '/cache/pkg')).toThrow(UserError);
    expect(() => checkIndex([entry(many[0]!)], want, '/cache/pkg')).toThrow(
      '6 locked package file(s) are missing from /cache/pkg: lib1_1.0-1_amd64.deb, lib2_1.0-1_amd64.deb, lib3_1.0-1_amd64.deb, lib4_1.0-1_amd64.deb, lib5_1.0-1_amd64.deb, ...',
    );
  });
});

describe('snapshot paths and key', () => {
  it('puts the chroot, its snapshot, stamp and lock under the provider directory', () => {
    expect(snapshotPaths('/work', 'debian13-amd64')).toEqual<SnapshotPaths>({
      chrootEnv: '/work/debian13-amd64/chrootenv',
      tarball: '/work/debian13-amd64/chrootbuild/chrootenv.tar.gz',
      stamp: '/work/debian13-amd64/chrootbuild/chrootenv.json',
      lockDir: '/work/debian13-amd64/chrootbuild/.lock',
      repoDir: '/work/debian13-amd64/chrootbuild/repo',
    });
  });

  const base = [pkg('base-files', '13.8'), pkg('bash', '5.2.37-2'), pkg('libc6', '2.41-12')];
  const tools = [pkg('mmdebstrap', '1.5.7-1', 'all')];

  it('is a SHA256 digest that does not depend on the order of the packages', () => {
    const key = snapshotKey(base, tools);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(snapshotKey([...base].reverse(), tools)).toBe(key);
  });

  it.each([
    ['a base version', () => snapshotKey([pkg('base-files', '13.9'), base[1]!, base[2]!], tools)],
    ['a base file digest', () => snapshotKey([{ ...base[0]!, sha256: '0'.repeat(64) }, base[1]!, base[2]!], tools)],
    ['a base architecture', () => snapshotKey([{ ...base[0]!, architecture: 'arm64' }, base[1]!, base[2]!], tools)],
    ['a removed base package', () => snapshotKey(base.slice(0, 2), tools)],
    ['a tool version', () => snapshotKey(base, [pkg('mmdebstrap', '1.5.8-1', 'all')])],
    ['a package moved from the tools to the base set', () => snapshotKey([...base, ...tools], [])],
  ])('changes with %s', (_what, other) => {
    expect(other()).not.toBe(snapshotKey(base, tools));
  });
});

describe('snapshotProblem', () => {
  const tarText = 'pretend this is a gzip tarball of a chroot\n';
  const key = 'k'.repeat(64);

  /** A snapshot and its stamp; `stamp` overrides fields, `tar` replaces the tarball's bytes (null: no tarball). */
  async function snapshot(opts: { stamp?: Partial<SnapshotStamp> | string; tar?: string | null } = {}): Promise<SnapshotPaths> {
    const paths = snapshotPaths(await tempDir(), 'debian13-amd64');
    await mkdir(path.dirname(paths.tarball), { recursive: true });
    const good: SnapshotStamp = {
      key,
      sha256: createHash('sha256').update(tarText).digest('hex'),
      size: Buffer.byteLength(tarText),
      packages: 3,
      created: '2025-01-01T00:00:00.000Z',
    };
    if (opts.tar !== null) await writeFile(paths.tarball, opts.tar ?? tarText);
    const stamp = typeof opts.stamp === 'string' ? opts.stamp : JSON.stringify({ ...good, ...opts.stamp });
    await writeFile(paths.stamp, stamp);
    return paths;
  }

  it('finds no problem when the key matches and the tarball has the stamp size and SHA256', async () => {
    const found = await snapshotProblem(await snapshot(), key);
    expect(found.problem).toBeUndefined();
    expect(found.stamp?.key).toBe(key);
    expect(found.stamp?.packages).toBe(3);
  });

  it('reports a missing stamp as missing', async () => {
    const paths = snapshotPaths(await tempDir(), 'debian13-amd64');
    expect(await snapshotProblem(paths, key)).toEqual({ problem: 'missing' });
  });

  it('treats an unreadable stamp as missing', async () => {
    expect(await snapshotProblem(await snapshot({ stamp: '{"key": "trunc' }), key)).toEqual({ problem: 'missing' });
  });

  it('reports a different key (the base set changed) before looking at the tarball', async () => {
    const found = await snapshotProblem(await snapshot({ stamp: { key: 'other' }, tar: null }), key);
    expect(found.problem).toBe('key');
    expect(found.stamp?.key).toBe('other');
  });

  it.each([
    ['the tarball is gone', { tar: null }],
    ['the tarball is truncated', { tar: tarText.slice(0, 10) }],
    ['the tarball was altered at the same size', { tar: tarText.toUpperCase() }],
    ['the stamp records another size', { stamp: { size: 1 } }],
  ])('reports a damaged snapshot when %s', async (_what, opts) => {
    const found = await snapshotProblem(await snapshot(opts), key);
    expect(found.problem).toBe('damaged');
    expect(found.stamp?.key).toBe(key);
  });
});

describe('basePackages', () => {
  const bash = pkg('bash');
  const dash = pkg('dash');
  const vim = pkg('vim');

  it('returns the base set in its order with the locked files', () => {
    expect(basePackages(lockWith(set([vim, dash, bash], ['bash', 'dash'])))).toEqual([bash, dash]);
  });

  it('rejects a base set naming a package the image does not lock', () => {
    const lock = lockWith(set([bash], ['bash', 'dash']));
    expect(() => basePackages(lock)).toThrow(UserError);
    expect(() => basePackages(lock)).toThrow(/names dash in the image's base set/);
  });
});

describe('lockEpoch', () => {
  const withDates = (...dates: Array<string | undefined>) =>
    ({ ...lockWith(set([], [])), repositories: dates.map((date, i) => ({ id: `r${i}`, release: { sha256: '', size: 0, date } })) }) as unknown as LockFile;

  it.each([
    [['2026-09-12T07:55:41.000Z', '2026-11-20T08:00:00.000Z'], Date.UTC(2026, 10, 20, 8) / 1000],
    [['2026-09-12T07:55:41.000Z', undefined], Date.UTC(2026, 8, 12, 7, 55, 41) / 1000],
    [[undefined], 0],
    [[], 0],
  ])('of Release dates %j is %d (the newest, so it depends on the lock alone)', (dates, want) => {
    expect(lockEpoch(withDates(...dates))).toBe(want);
  });
});

describe('aptInstallArgs', () => {
  it('installs exactly the locked versions, sorted, without recommends or prompts', () => {
    const args = aptInstallArgs([pkg('vim', '2:9.1.1230-2'), pkg('bash', '5.2.37-2'), pkg('ca-certificates', '20250419', 'all')]);
    expect(args).toEqual([
      'apt-get',
      'install',
      '-y',
      '--no-install-recommends',
      '--allow-downgrades',
      '-o',
      'Dpkg::Options::=--force-confdef',
      '-o',
      'Dpkg::Options::=--force-confold',
      '-o',
      'Dpkg::Options::=--force-unsafe-io',
      'bash=5.2.37-2',
      'ca-certificates=20250419',
      'vim=2:9.1.1230-2',
    ]);
  });
});

/** One dpkg status stanza. */
function stanza(name: string, version: string, arch = 'amd64', status = 'install ok installed'): string {
  return `Package: ${name}\nStatus: ${status}\nPriority: optional\nArchitecture: ${arch}\nVersion: ${version}\nDescription: ${name}\n long text: with a colon\n .\n more\n`;
}

describe('initramfsToolsImage', () => {
  it('is true only for a package set with initramfs-tools and without dracut', () => {
    expect(initramfsToolsImage([pkg('linux-image-amd64'), pkg('initramfs-tools')])).toBe(true);
    expect(initramfsToolsImage([pkg('linux-image-amd64'), pkg('initramfs-tools'), pkg('dracut')])).toBe(false);
    expect(initramfsToolsImage([pkg('linux-image-amd64'), pkg('dracut')])).toBe(false);
    expect(initramfsToolsImage([pkg('bash')])).toBe(false);
  });
});

describe('clampShadowDays', () => {
  it('sets every last-change day after the given one to it, and leaves earlier, empty and malformed fields alone', () => {
    const shadow = ['root:*:20793:0:99999:7:::', 'daemon:*:20000:0:99999:7:::', 'nobody:*::0:99999:7:::', 'odd:*:x:0:::::', 'short:*', ''].join('\n');
    expect(clampShadowDays(shadow, 20500)).toBe(
      ['root:*:20500:0:99999:7:::', 'daemon:*:20000:0:99999:7:::', 'nobody:*::0:99999:7:::', 'odd:*:x:0:::::', 'short:*', ''].join('\n'),
    );
  });

  it('removes the backups dpkg and debconf keep of their state before the last write', () => {
    expect(INSTALL_LEFTOVERS).toEqual(
      expect.arrayContaining(['var/lib/dpkg/status-old', 'var/cache/debconf/config.dat-old', 'var/cache/debconf/templates.dat-old']),
    );
  });
});

describe('parseDpkgStatus', () => {
  it('reads name, version, architecture and state, skipping continuation lines', () => {
    const text = `${stanza('bash', '5.2.37-2')}\n${stanza('tzdata', '2025b-4', 'all', 'install ok half-configured')}\n\n\n${stanza('old', '1', 'amd64', 'deinstall ok config-files')}`;
    expect(parseDpkgStatus(text)).toEqual([
      { name: 'bash', version: '5.2.37-2', architecture: 'amd64', state: 'installed' },
      { name: 'tzdata', version: '2025b-4', architecture: 'all', state: 'half-configured' },
      { name: 'old', version: '1', architecture: 'amd64', state: 'config-files' },
    ]);
  });

  it('matches field names in any case and trims values', () => {
    expect(parseDpkgStatus('package:  zlib1g \nSTATUS: install ok  unpacked\nversion: 1:1.3\n')).toEqual([
      { name: 'zlib1g', version: '1:1.3', architecture: '', state: 'unpacked' },
    ]);
  });

  it('skips stanzas without a Package field and marks a missing Status unknown', () => {
    expect(parseDpkgStatus('Version: 1\nStatus: install ok installed\n\nPackage: a\nVersion: 2\n')).toEqual([
      { name: 'a', version: '2', architecture: '', state: 'unknown' },
    ]);
  });

  it('does not take a field from an indented continuation line', () => {
    expect(parseDpkgStatus('Package: a\nConffiles:\n /etc/a.conf 0123\n Package: b\nStatus: install ok installed\n')).toEqual([
      { name: 'a', version: '', architecture: '', state: 'installed' },
    ]);
  });
});

describe('checkInstalled', () => {
  const locked = [pkg('bash', '5.2.37-2'), pkg('tzdata', '2025b-4', 'all'), pkg('libc6', '2.41-12')];

  async function rootfsWith(status: string): Promise<string> {
    const root = await tempDir();
    await mkdir(path.join(root, 'var/lib/dpkg'), { recursive: true });
    await writeFile(path.join(root, 'var/lib/dpkg/status'), status);
    return root;
  }

  it('accepts a database that lists exactly the locked packages, installed', async () => {
    const root = await rootfsWith([stanza('libc6', '2.41-12'), stanza('bash', '5.2.37-2'), stanza('tzdata', '2025b-4', 'all')].join('\n'));
    await expect(checkInstalled(new LocalRunner(), root, locked)).resolves.toBeUndefined();
  });

  it.each([
    [
      'an unlocked package',
      [stanza('bash', '5.2.37-2'), stanza('tzdata', '2025b-4', 'all'), stanza('libc6', '2.41-12'), stanza('vim', '9.1')],
      'vim 9.1 is installed but not locked',
    ],
    ['a missing package', [stanza('bash', '5.2.37-2'), stanza('tzdata', '2025b-4', 'all')], 'libc6:amd64 2.41-12 is locked but not installed'],
    [
      'another version',
      [stanza('bash', '5.2.15-2'), stanza('tzdata', '2025b-4', 'all'), stanza('libc6', '2.41-12')],
      'bash is 5.2.15-2, the lock says 5.2.37-2',
    ],
    [
      'a half-configured package',
      [stanza('bash', '5.2.37-2'), stanza('tzdata', '2025b-4', 'all', 'install ok half-configured'), stanza('libc6', '2.41-12')],
      'tzdata is half-configured',
    ],
    [
      'another architecture',
      [stanza('bash', '5.2.37-2'), stanza('tzdata', '2025b-4', 'all'), stanza('libc6', '2.41-12', 'i386')],
      'libc6 2.41-12 is installed but not locked; libc6:amd64 2.41-12 is locked but not installed',
    ],
  ])('fails naming %s', async (_what, stanzas, problem) => {
    const err = await checkInstalled(new LocalRunner(), await rootfsWith(stanzas.join('\n')), locked).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toBe(`the image's packages differ from the lock: ${problem}`);
  });

  it('lists eight problems and counts the rest', async () => {
    const extra = Array.from({ length: 11 }, (_, i) => stanza(`extra${i}`, '1'));
    const err = await checkInstalled(
      new LocalRunner(),
      await rootfsWith([...locked.map((p) => stanza(p.name, p.version, p.architecture)), ...extra].join('\n')),
      locked,
    ).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/extra7 1 is installed but not locked; and 3 more$/);
    expect((err as Error).message).not.toContain('extra8');
  });
});

describe('base image', () => {
  it('names the base image after the provider', () => {
    expect(baseImageRef('debian13-amd64')).toBe('g3-composer/base:debian13-amd64');
  });

  const bash = pkg('bash');
  const dash = pkg('dash');
  const coreutils = pkg('coreutils');

  it("takes the tools' Essential set, in its order, from the image's locked packages", () => {
    const lock = lockWith(set([bash, coreutils, dash], ['bash', 'coreutils', 'dash']), set([pkg('mmdebstrap')], ['dash', 'bash']));
    expect(essentialPackages(lock)).toEqual([dash, bash]);
  });

  it('names every Essential package the image does not lock', () => {
    const lock = lockWith(set([bash], ['bash']), set([], ['bash', 'dash', 'coreutils']));
    expect(() => essentialPackages(lock)).toThrow(UserError);
    expect(() => essentialPackages(lock)).toThrow("the lock's tools need the Essential packages dash, coreutils, which the image's package set does not lock");
  });

  it('adds apt to the Essential set when the image locks it, so the composer image can fall back to apt', () => {
    const apt = pkg('apt', '3.0.4');
    expect(basePackagesOf(lockWith(set([bash, dash, apt], ['apt', 'bash', 'dash']), set([], ['dash', 'bash'])))).toEqual([dash, bash, apt]);
    expect(basePackagesOf(lockWith(set([bash, dash], ['bash', 'dash']), set([], ['dash', 'bash'])))).toEqual([dash, bash]);
  });
});

describe('build directory and image names', () => {
  const named = (name?: string): ImageTemplate => ({ systemConfig: { name } });

  it.each(['minimal', 'edge-1.0_x', 'A9'])('puts the build of %s under imagebuild', (name) => {
    expect(imageBuildDir('/work', 'debian13-amd64', named(name))).toBe(`/work/debian13-amd64/imagebuild/${name}`);
  });

  it.each([undefined, '', '.', '..', '.hidden', '../etc', 'a/b', '/abs', '-rf', 'a b', 'a\n', 'a\nb', 'é'])('refuses the build directory name %j', (name) => {
    expect(() => imageBuildDir('/work', 'debian13-amd64', named(name))).toThrow(UserError);
  });

  it.each([
    [{ name: 'debian', version: '13.1' }, 'debian-13.1.raw'],
    [{ name: 'edge' }, 'edge-0.raw'],
    [undefined, 'image-0.raw'],
  ])('names the raw image from image.name and image.version (%j)', (image, file) => {
    expect(rawImageName({ image })).toBe(file);
  });

  it.each([{ name: '../../etc/x' }, { name: 'x', version: '1/../../y' }, { name: '.hidden' }, { name: '..' }, { name: '.', version: '' }])(
    'refuses the unsafe raw image name %j',
    (image) => {
      expect(() => rawImageName({ image })).toThrow(UserError);
    },
  );
});

describe('diskSeed', () => {
  const packages = [pkg('bash'), pkg('linux-image-amd64', '6.12.38-1')];
  const lock = lockWith(set(packages, ['bash']), set([pkg('mmdebstrap')], ['bash']));
  const template: ImageTemplate = { systemConfig: { name: 'minimal', hostname: 'box' }, disk: { name: 'd', size: '4GiB', partitionTableType: 'gpt' } };

  it('gives the same seed for the same lock and template', () => {
    const seed = diskSeed(lock, template);
    expect(seed).toMatch(/^[0-9a-f]{64}$/);
    expect(diskSeed(structuredClone(lock), structuredClone(template))).toBe(seed);
  });

  it.each([
    ['the request digest', { ...lock, requestDigest: 'r2' }, template],
    ['a package file', { ...lock, image: { ...lock.image, packages: [packages[0]!, { ...packages[1]!, sha256: '0'.repeat(64) }] } }, template],
    ['the disk size', lock, { ...template, disk: { ...template.disk, size: '8GiB' } }],
    ['the system name', lock, { ...template, systemConfig: { name: 'other' } }],
  ])('changes with %s', (_what, l, t) => {
    expect(diskSeed(l, t)).not.toBe(diskSeed(lock, template));
  });

  it('does not change with the composer tools, which are not in the image', () => {
    expect(diskSeed({ ...lock, tools: set([pkg('mmdebstrap', '9')], []) }, template)).toBe(diskSeed(lock, template));
  });
});

describe('gzipProgram', () => {
  const tool = (name: string) => ({ name, version: '1', architecture: 'amd64', sha256: 'a'.repeat(64), size: 1, filename: `${name}.deb` }) as never;
  it('is pigz when the composer tools have it, else gzip', () => {
    expect(gzipProgram([tool('mmdebstrap'), tool('pigz')])).toBe('pigz');
    expect(gzipProgram([tool('mmdebstrap'), tool('pigz-doc')])).toBe('gzip');
    expect(gzipProgram([])).toBe('gzip');
  });
});
